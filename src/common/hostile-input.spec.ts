import {
  findControlCharacter,
  hasControlCharacter,
  MAX_JSON_DEPTH,
  scanJson,
  undecodableFormField,
  duplicateHeader,
  findForbiddenKey,
  unsupportedContentType,
} from './hostile-input';

const scan = (text: string) => scanJson(Buffer.from(text));

describe('scanJson', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    const deep = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    expect(scan(ok).tooDeep).toBe(false);
    expect(scan(deep).tooDeep).toBe(true);
  });

  it('does not count brackets inside strings, nor escaped quotes as string ends', () => {
    expect(scan(JSON.stringify({ a: '[[[['.repeat(100), b: '\\"[[[[' })).tooDeep).toBe(false);
  });

  it('stops early on a 1 MB body nested 500k deep', () => {
    const body = Buffer.from('['.repeat(500_000) + ']'.repeat(500_000));
    const started = process.hrtime.bigint();
    expect(scanJson(body).tooDeep).toBe(true);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(50);
  });

  it('flags escaped C0 control characters but not tab, line feed or carriage return', () => {
    expect(scan('{"a":"x\\u0000"}').control).toBe(true);
    expect(scan('{"a":"x\\u001F"}').control).toBe(true);
    expect(scan('{"a":"x\\u000b"}').control).toBe(true);
    expect(scan('{"a":"x\\u0009\\u000a\\u000D\\n\\t"}').control).toBe(false);
    expect(scan('{"a":"x\\u0020\\u0100"}').control).toBe(false);
    expect(scan('{"a":"x\\ud800"}').control).toBe(true); // a surrogate: checked after parsing
    expect(scan('{"a":"x\\\\u0000"}').control).toBe(false); // an escaped backslash, then text
  });
});

describe('findControlCharacter', () => {
  it('names the path of the first offending value or key', () => {
    expect(findControlCharacter({ messages: [{ role: 'user', content: 'a\u0000' }] })).toBe(
      'messages[0].content',
    );
    expect(findControlCharacter({ ok: 'fine', ['k\u0001']: 1 })).toBe('k?');
    expect(findControlCharacter({ ok: 'tab\there\nand lines' })).toBeUndefined();
    expect(findControlCharacter({ email: '\ud800@example.com' })).toBe('email');
    expect(findControlCharacter({ ok: 'a pair: \ud83d\ude00' })).toBeUndefined();
  });
});

describe('hasControlCharacter', () => {
  it('refuses what the HTTP edge refuses, for input that does not pass through it', () => {
    expect(hasControlCharacter('a\u0001b')).toBe(true);
    expect(hasControlCharacter('nul\u0000')).toBe(true);
    expect(hasControlCharacter('\udc00')).toBe(true);
    expect(hasControlCharacter('tab\tLF\nCR\r')).toBe(false);
    expect(hasControlCharacter('plain ünïcode 😀')).toBe(false);
  });
});

describe('undecodableFormField', () => {
  it('names the field whose percent-encoding is not UTF-8 or is malformed', () => {
    expect(undecodableFormField('grant_type=client_credentials&client_id=%ff')).toBe('client_id');
    expect(undecodableFormField('a=ok&scope=%e2%82')).toBe('scope');
    expect(undecodableFormField('a=%zz')).toBe('a');
    expect(undecodableFormField('%ff=1')).toBe('(a field name)');
  });

  it('accepts valid percent-encoding, including an encoded percent sign', () => {
    expect(undecodableFormField('a=%C3%A9&b=%25ff&c=x+y&scope=model%3Ainvoke')).toBeUndefined();
    expect(undecodableFormField('grant_type=client_credentials')).toBeUndefined();
  });
});

describe('duplicateHeader', () => {
  const names = ['authorization', 'x-api-key'];

  it('names a credential header sent twice, whatever its case', () => {
    expect(
      duplicateHeader(
        ['Host', 'x', 'Authorization', 'Bearer a', 'authorization', 'Bearer b'],
        names,
      ),
    ).toBe('authorization');
    expect(duplicateHeader(['X-API-Key', 'k1', 'x-api-key', 'k2'], names)).toBe('x-api-key');
  });

  it('accepts one of each, and repeats of other headers', () => {
    expect(
      duplicateHeader(
        ['Authorization', 'Bearer a', 'X-Api-Key', 'k', 'Accept', 'a', 'Accept', 'b'],
        names,
      ),
    ).toBeUndefined();
    expect(duplicateHeader([], names)).toBeUndefined();
  });
});

describe('findForbiddenKey', () => {
  it('names the path of a prototype-poisoning key', () => {
    expect(findForbiddenKey(JSON.parse('{"__proto__":{"isAdmin":true}}'))).toBe('__proto__');
    expect(findForbiddenKey(JSON.parse('{"a":[{"constructor":{"prototype":{}}}]}'))).toBe(
      'a[0].constructor.prototype',
    );
    expect(findForbiddenKey({ constructor: 'a name', proto: 1 })).toBeUndefined();
  });
});

describe('unsupportedContentType', () => {
  it('names the type sent without its parameters', () => {
    expect(unsupportedContentType('multipart/form-data; boundary=----x').message).toBe(
      'Content-Type multipart/form-data is not supported: send application/json or application/x-www-form-urlencoded',
    );
    expect(unsupportedContentType(undefined).message).toMatch(/^Content-Type \(none\)/);
  });
});
