import { startTestApp, TestApp } from '../support/app';
import { bearer, CLIENTS, tokenFor } from '../support/factories';

type Schema = {
  $ref?: string;
  properties?: Record<string, unknown>;
  allOf?: Schema[];
};
interface Operation {
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  parameters?: Array<{ in: string; name: string }>;
}

/**
 * Fuzzes every JSON endpoint of the OpenAPI document (and every GET's query) with hostile
 * bodies: wrong types, deep nesting, NUL and other control characters, `__proto__` and
 * `constructor` keys, huge strings and numbers, unknown fields. The only assertion that
 * matters: never a 5xx (and every answer is a JSON error or a success, never a stack trace).
 */
describe('security: fuzzing every JSON endpoint never gets a 5xx', () => {
  let sut: TestApp;
  let admin: string;
  let paths: Record<string, Record<string, Operation>>;
  let schemas: Record<string, Schema>;

  beforeAll(async () => {
    sut = await startTestApp();
    admin = await tokenFor(sut.url, CLIENTS.admin);
    const document = (await sut.http().get('/openapi.json')).body;
    paths = document.paths;
    schemas = document.components?.schemas ?? {};
  });

  afterAll(async () => {
    await sut?.close();
  });

  const propertiesOf = (schema: Schema | undefined): string[] => {
    if (!schema) return [];
    if (schema.$ref) return propertiesOf(schemas[schema.$ref.split('/').pop() ?? '']);
    return [
      ...Object.keys(schema.properties ?? {}),
      ...(schema.allOf ?? []).flatMap((part) => propertiesOf(part)),
    ];
  };

  /** Raw JSON texts: numbers JSON.stringify cannot write, nesting, prototype keys. */
  const hostileBodies = (fields: string[]): string[] => {
    const bodies = [
      '[]',
      '"a string"',
      '12345',
      'null',
      'true',
      '{}',
      '['.repeat(5000) + ']'.repeat(5000),
      '{"a":'.repeat(2000) + '1' + '}'.repeat(2000),
      '{"__proto__":{"isAdmin":true,"roles":["admin"]}}',
      '{"constructor":{"prototype":{"isAdmin":true}}}',
      '{"unknown_field_xyz":1,"another":{"nested":[1,2,3]}}',
      `{"x":"${'\\u0000'.repeat(3)}"}`,
    ];
    for (const field of fields.length ? fields : ['value']) {
      const key = JSON.stringify(field);
      bodies.push(
        `{${key}:123}`,
        `{${key}:1e308}`,
        `{${key}:-1e308}`,
        `{${key}:${'9'.repeat(400)}}`,
        `{${key}:18446744073709551616}`,
        `{${key}:-0}`,
        `{${key}:true}`,
        `{${key}:null}`,
        `{${key}:[]}`,
        `{${key}:{"$ne":null}}`,
        `{${key}:[[[[[[[[["deep"]]]]]]]]]}`,
        `{${key}:"a\\u0000b"}`,
        `{${key}:"\\u0001\\u0002\\u001f"}`,
        `{${key}:"${'x'.repeat(200_000)}"}`,
        `{${key}:"\\ud800"}`,
        `{${key}:"../../../etc/passwd"}`,
        `{${key}:"' OR 1=1 --"}`,
        `{${key}:"__proto__"}`,
      );
    }
    return bodies;
  };

  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'fuzz-id');

  it('answers every hostile body to every JSON endpoint without a 5xx', async () => {
    const failures: string[] = [];
    let requests = 0;
    for (const [path, operations] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!['post', 'put', 'patch', 'delete'].includes(method)) continue;
        const json = operation.requestBody?.content?.['application/json'];
        if (!json && method !== 'post') continue;
        const fields = propertiesOf(json?.schema);
        for (const body of hostileBodies(fields)) {
          requests++;
          const http = sut.http();
          const response = await http[method as 'post'](concrete(path))
            .set(bearer(admin))
            .set('Content-Type', 'application/json')
            .send(body);
          // A body that happens to be valid may rotate keys hard: keep the admin token fresh.
          if (response.status === 401) admin = await tokenFor(sut.url, CLIENTS.admin);
          if (response.status >= 500)
            failures.push(
              `${method.toUpperCase()} ${path} ${body.slice(0, 60)} → ${response.status} ${response.text.slice(0, 120)}`,
            );
          else if (response.status >= 400 && !/json/.test(response.headers['content-type'] ?? ''))
            failures.push(`${method.toUpperCase()} ${path} → ${response.status} not JSON`);
        }
      }
    }
    expect(requests).toBeGreaterThan(300);
    expect(failures).toEqual([]);
  });

  it('answers hostile query strings to every GET endpoint without a 5xx', async () => {
    const failures: string[] = [];
    const values = [
      '%00',
      '%01abc',
      'x'.repeat(10_000),
      '-1',
      '1e308',
      '%7B%22%24ne%22%3Anull%7D',
      '..%2F..%2Fetc',
      '[]',
    ];
    for (const [path, operations] of Object.entries(paths)) {
      const get = operations.get;
      if (!get || path.includes('stream')) continue;
      const names = [
        ...(get.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        'unknown',
      ];
      for (const name of names) {
        for (const value of values) {
          const response = await sut
            .http()
            .get(`${concrete(path)}?${name}=${value}`)
            .set(bearer(admin));
          if (response.status >= 500)
            failures.push(`GET ${path}?${name}=${value.slice(0, 20)} → ${response.status}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
