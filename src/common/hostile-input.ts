import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { parse as parseQueryString } from 'fast-querystring';
import { HostileInputError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors';

/**
 * Hostile input is refused where it enters, before a validator recurses into it or PostgreSQL
 * sees it (both answered 500 before): JSON nested deeper than {@link MAX_JSON_DEPTH}, and C0
 * control characters (NUL above all: PostgreSQL refuses it in text) in JSON and form bodies,
 * query strings and path parameters. Tab, line feed and carriage return stay allowed (prompts
 * and chat messages carry them). Bytes that are not UTF-8 (raw, or percent-encoded in a form)
 * are refused too: decoded, they became U+FFFD (`"\xff"` reached a prompt as `"�"`) or stayed
 * `%ff`, and were compared as credentials. The answer is a 400 naming the field, as
 * {@link HostileInputError}; the exception filter gives it each surface's shape (RFC 6749
 * `invalid_request` on the OAuth endpoints, problem+json elsewhere).
 */
export const MAX_JSON_DEPTH = 32;

/** The largest body read (JSON, form): Fastify's `bodyLimit`. */
export const BODY_LIMIT = 1024 * 1024;

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;

/**
 * `\u00XY` names a refused control character (XY in 00–1F except 09, 0A, 0D); `\uD8..`–`\uDF..`
 * a surrogate, which the parsed value is then checked for being well formed (a lone one is
 * not Unicode, and reached PostgreSQL as a 500).
 */
function escapedControl(body: Buffer, at: number): boolean {
  // at: index of 'u'; the four hex digits follow.
  if (at + 4 >= body.length) return false;
  if ((body[at + 1] | 0x20) === 0x64 && body[at + 2] >= 0x38) return true; // "d8".."df"
  if (body[at + 1] !== 0x30 || body[at + 2] !== 0x30) return false; // "00"
  const high = body[at + 3];
  if (high !== 0x30 && high !== 0x31) return false; // 0 or 1
  const low = body[at + 4] | 0x20; // lower-case a hex letter
  const digit =
    low >= 0x30 && low <= 0x39 ? low - 0x30 : low >= 0x61 && low <= 0x66 ? low - 87 : -1;
  if (digit < 0) return false;
  const code = (high - 0x30) * 16 + digit;
  return code !== 0x09 && code !== 0x0a && code !== 0x0d;
}

export interface JsonScan {
  /** Deeper than the limit: refused before JSON.parse. */
  tooDeep: boolean;
  /** A string holds an escaped control character: the parsed value is searched for it. */
  control: boolean;
}

/**
 * One linear pass over the raw bytes, no allocation: bracket depth outside strings, and escaped
 * control characters inside them (a raw one is invalid JSON, which JSON.parse refuses anyway).
 * Stops at the first bracket past `maxDepth`, so a 1 MB body nested 500k deep costs microseconds.
 */
export function scanJson(body: Buffer, maxDepth = MAX_JSON_DEPTH): JsonScan {
  let depth = 0;
  let inString = false;
  let control = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) {
        if (body[i + 1] === LOWER_U && escapedControl(body, i + 1)) control = true;
        i++; // skip the escaped character
      } else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACKET || byte === OPEN_BRACE) {
      if (++depth > maxDepth) return { tooDeep: true, control };
    } else if (byte === CLOSE_BRACKET || byte === CLOSE_BRACE) depth--;
  }
  return { tooDeep: false, control };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/** A UTF-16 surrogate without its pair: not Unicode text. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_ALL = new RegExp(LONE_SURROGATE.source, 'g');

function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * A string the edge refuses: a C0 control character other than tab, LF and CR, or a lone
 * surrogate (JSON bodies here; CLI arguments, which do not pass through the HTTP edge).
 */
export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value) || LONE_SURROGATE.test(value);
}

/**
 * The path of the first string (value or key) holding a refused control character, e.g.
 * `messages[0].content`, or undefined. Only called on a value already depth-limited.
 */
export function findControlCharacter(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return hasControlCharacter(value) ? path || 'value' : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findControlCharacter(value[i], child(path, i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (hasControlCharacter(key))
        return child(path, key.replace(CONTROL_ALL, '?').replace(LONE_SURROGATE_ALL, '?'));
      const found = findControlCharacter((value as Record<string, unknown>)[key], child(path, key));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

function refuseControl(where: string, path: string): HostileInputError {
  return new HostileInputError(
    `${where}${path}: control characters (such as NUL) and lone surrogates are not allowed`,
  );
}

/** A flat record of strings (query, params, form): checked without recursion. */
function checkFlat(record: unknown, where: string): void {
  if (record === null || typeof record !== 'object') return;
  for (const key in record) {
    const value = (record as Record<string, unknown>)[key];
    if (CONTROL.test(key)) throw refuseControl(where, key.replace(CONTROL_ALL, '?'));
    if (typeof value === 'string') {
      if (CONTROL.test(value)) throw refuseControl(where, key);
    } else if (Array.isArray(value)) {
      for (const item of value)
        if (typeof item === 'string' && CONTROL.test(item)) throw refuseControl(where, key);
    }
  }
}

export const NOT_UTF8 = 'Request body is not valid UTF-8';

/** The answer to a body over {@link BODY_LIMIT} (Fastify refuses it from its Content-Length). */
export function payloadTooLarge(): PayloadTooLargeError {
  return new PayloadTooLargeError(`Request body is too large (max ${BODY_LIMIT / 1024 / 1024} MB)`);
}

/**
 * The answer to a body of a type no parser reads (multipart, text/plain, XML…), naming the type
 * as sent (its parameters, such as a multipart boundary, left out).
 */
export function unsupportedContentType(header: unknown): UnsupportedMediaTypeError {
  const type = typeof header === 'string' ? header.split(';')[0].trim().slice(0, 100) : '';
  return new UnsupportedMediaTypeError(
    `Content-Type ${type || '(none)'} is not supported: send application/json or application/x-www-form-urlencoded`,
  );
}

/**
 * A compressed body (`Content-Encoding: gzip`) is not decoded: refused naming the coding, not
 * parsed as if it were text (it was "not valid JSON", or a form of garbage).
 */
function encodingRefusal(request: FastifyRequest): UnsupportedMediaTypeError | undefined {
  const encoding = request.headers['content-encoding'];
  if (encoding === undefined || encoding.toLowerCase() === 'identity') return undefined;
  return new UnsupportedMediaTypeError(
    `Content-Encoding ${encoding.slice(0, 40)} is not supported: send the body uncompressed`,
  );
}

/**
 * The path of a key the JSON parser refuses (prototype poisoning): `__proto__`, or `constructor`
 * holding a `prototype`. Only called once parsing has failed, on a value already depth-limited.
 */
export function findForbiddenKey(value: unknown, path = ''): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findForbiddenKey(value[i], child(path, i));
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    if (key === '__proto__') return child(path, key);
    if (
      key === 'constructor' &&
      member !== null &&
      typeof member === 'object' &&
      Object.prototype.hasOwnProperty.call(member, 'prototype')
    )
      return child(child(path, key), 'prototype');
    const found = findForbiddenKey(member, child(path, key));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** What was wrong with a JSON body Fastify's parser refused (the error path only). */
function jsonRefusal(body: Buffer, error: { code?: string }): HostileInputError {
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return new HostileInputError('Request body is empty, but Content-Type is application/json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString());
  } catch {
    return new HostileInputError('Request body is not valid JSON');
  }
  // Valid JSON that secure-json-parse refused: a prototype-poisoning key.
  const key = findForbiddenKey(parsed);
  return new HostileInputError(
    key === undefined
      ? 'Request body is not valid JSON'
      : `${key}: the keys "__proto__" and "constructor.prototype" are not allowed`,
  );
}

/**
 * The first form field whose percent-encoding does not decode to UTF-8 text (`client_id=%ff`,
 * `a=%e2%82`, `a=%zz`), or undefined. fast-querystring leaves such a value as it was sent, so it
 * cannot be told apart afterwards from a `%25ff` that decoded to `%ff`: the raw text is checked,
 * only the pairs with a `%` in them.
 */
export function undecodableFormField(form: string): string | undefined {
  if (form.indexOf('%') < 0) return undefined;
  for (const pair of form.split('&')) {
    if (pair.indexOf('%') < 0) continue;
    try {
      decodeURIComponent(pair.replace(/\+/g, ' '));
    } catch {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      try {
        return decodeURIComponent(name.replace(/\+/g, ' ')).slice(0, 64);
      } catch {
        return '(a field name)';
      }
    }
  }
  return undefined;
}

/**
 * The first of `names` (lower-case) sent more than once in `rawHeaders` (name, value, name, …),
 * or undefined. Node keeps only the first `Authorization` (and the first of an unknown header
 * it does not join), so `Authorization: Bearer <good>` then `Authorization: Bearer garbage` was
 * accepted as the first, and the reverse refused: two credentials are one too many (RFC 6750
 * §3.1 `invalid_request`, as for a Basic header beside form credentials). No allocation unless
 * a name's length matches.
 */
export function duplicateHeader(
  rawHeaders: readonly string[],
  names: readonly string[],
): string | undefined {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    for (let j = 0; j < names.length; j++) {
      if (name.length !== names[j].length || name.toLowerCase() !== names[j]) continue;
      if (seen & (1 << j)) return names[j];
      seen |= 1 << j;
    }
  }
  return undefined;
}

/**
 * Installs the edge checks: the JSON and form body parsers (Nest's own, plus the checks) and a
 * preValidation hook for query strings, path parameters and repeated credential headers
 * (`credentialHeaders`: `Authorization` and the API-key header, named back as written here). Every route, every
 * surface.
 */
export function installEdgeGuards(
  app: NestFastifyApplication,
  bodyLimit: number,
  credentialHeaders: readonly string[] = ['Authorization'],
): void {
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  app.useBodyParser('application/json', { bodyLimit }, (request, body, done) => {
    const encoding = encodingRefusal(request as FastifyRequest);
    if (encoding) return done(encoding, undefined);
    // simdutf underneath: a 1 MB body is checked in well under a millisecond.
    if (!isUtf8(body)) return done(new HostileInputError(NOT_UTF8), undefined);
    const scan = scanJson(body);
    if (scan.tooDeep) {
      done(
        new HostileInputError(
          `Request body is nested too deeply (more than ${MAX_JSON_DEPTH} levels)`,
        ),
        undefined,
      );
      return;
    }
    // Buffer, as Nest passes it (the typing says string; JSON.parse accepts either).
    parseJson(request as FastifyRequest, body as unknown as string, (error, parsed) => {
      if (error) return done(jsonRefusal(body, error as { code?: string }), undefined);
      if (scan.control) {
        const path = findControlCharacter(parsed);
        if (path !== undefined) return done(refuseControl('', path), undefined);
      }
      done(null, parsed);
    });
  });
  app.useBodyParser('application/x-www-form-urlencoded', { bodyLimit }, (request, body, done) => {
    const encoding = encodingRefusal(request as FastifyRequest);
    if (encoding) return done(encoding, undefined);
    if (!isUtf8(body)) return done(new HostileInputError(NOT_UTF8), undefined);
    const text = body.toString();
    const form = parseQueryString(text);
    try {
      checkFlat(form, '');
    } catch (error) {
      return done(error as Error, undefined);
    }
    const undecodable = undecodableFormField(text);
    if (undecodable !== undefined)
      return done(
        new HostileInputError(
          `${undecodable}: the percent-encoding is malformed or does not decode to valid UTF-8`,
        ),
        undefined,
      );
    done(null, form);
  });
  // No route reads text: Fastify's text/plain parser handed a string to handlers that expect an
  // object (a text/plain token request was told "grant_type is required"). An empty text/plain
  // body (what fetch and some clients label a body-less POST) still passes.
  fastify.removeContentTypeParser('text/plain');
  fastify.addContentTypeParser(
    'text/plain',
    { parseAs: 'buffer', bodyLimit },
    (
      request: FastifyRequest,
      body: Buffer,
      done: (error: Error | null, body?: unknown) => void,
    ) => {
      if (body.length === 0) return done(null, undefined);
      done(unsupportedContentType(request.headers['content-type']), undefined);
    },
  );
  const names = credentialHeaders.map((name) => name.toLowerCase());
  fastify.addHook('preValidation', (request: FastifyRequest, _reply, done) => {
    // Only a request carrying a credential header can carry it twice: the others skip the scan.
    let credential = false;
    for (const name of names) if (request.headers[name] !== undefined) credential = true;
    if (credential) {
      const repeated = duplicateHeader(request.raw.rawHeaders, names);
      if (repeated !== undefined)
        return done(
          new HostileInputError(
            `Send one ${credentialHeaders[names.indexOf(repeated)]} header: the request has more than one`,
          ),
        );
    }
    try {
      checkFlat(request.query, 'query parameter ');
      checkFlat(request.params, 'path parameter ');
    } catch (error) {
      return done(error as Error);
    }
    done();
  });
}
