import { ValidationFailedError } from '../../common/errors';
import type { ModelEndpoint } from '../inference.service';

/**
 * Validation of the OpenAI request bodies, by hand: these are the gateway's hot path, and the
 * global ValidationPipe (class-transformer + class-validator over nested messages) cost about a
 * third of a proxied request's CPU. Only the fields Tessera reads are checked; every other field
 * is forwarded as the client sent it. Each error names the field in `param` (`messages[0].role`).
 * The DTO classes beside this file describe the same bodies for OpenAPI.
 */
export const CHAT_ROLES = ['system', 'user', 'assistant', 'tool', 'developer', 'function'];

const MAX_MODEL_LENGTH = 256;
const MAX_MESSAGES = 10_000;
const MAX_TOKENS = 10_000_000;

type Body = Record<string, unknown>;

function fail(param: string, message: string): never {
  throw new ValidationFailedError(message, param);
}

function isObject(value: unknown): value is Body {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function model(body: Body): void {
  const value = body.model;
  if (value === undefined) fail('model', 'model is required');
  if (typeof value !== 'string') fail('model', 'model must be a string');
  if (value.length === 0) fail('model', 'model should not be empty');
  if (value.length > MAX_MODEL_LENGTH)
    fail('model', `model must be at most ${MAX_MODEL_LENGTH} characters`);
}

function optionalBoolean(body: Body, field: string): void {
  if (body[field] !== undefined && typeof body[field] !== 'boolean')
    fail(field, `${field} must be a boolean`);
}

function optionalCount(body: Body, field: string): void {
  const value = body[field];
  if (value === undefined || value === null) return;
  if (typeof value !== 'number' || !Number.isInteger(value))
    fail(field, `${field} must be a whole number`);
  if (value < 1) fail(field, `${field} must be at least 1`);
  if (value > MAX_TOKENS) fail(field, `${field} must not be greater than ${MAX_TOKENS}`);
}

function streamOptions(body: Body): void {
  const value = body.stream_options;
  if (value === undefined || value === null) return;
  if (!isObject(value)) fail('stream_options', 'stream_options must be an object');
  if (value.include_usage !== undefined && typeof value.include_usage !== 'boolean')
    fail('stream_options.include_usage', 'stream_options.include_usage must be a boolean');
}

/** A string, strings, tokens (numbers) or token arrays: `prompt` and `input`. */
function textOrTokens(body: Body, field: string): void {
  const value = body[field];
  if (value === undefined) fail(field, `${field} is required`);
  if (typeof value === 'string') return;
  if (
    Array.isArray(value) &&
    (value.every((v) => typeof v === 'string') ||
      value.every((v) => typeof v === 'number') ||
      value.every((v) => Array.isArray(v) && v.every((n) => typeof n === 'number')))
  )
    return;
  fail(field, `${field} must be a string, an array of strings or an array of tokens`);
}

function messages(body: Body): void {
  const value = body.messages;
  if (value === undefined) fail('messages', 'messages is required');
  if (!Array.isArray(value)) fail('messages', 'messages must be an array');
  if (value.length === 0) fail('messages', 'messages must contain at least one message');
  if (value.length > MAX_MESSAGES)
    fail('messages', `messages must contain at most ${MAX_MESSAGES} messages`);
  for (let i = 0; i < value.length; i++) {
    const message: unknown = value[i];
    if (!isObject(message)) fail(`messages[${i}]`, `messages[${i}] must be an object`);
    if (typeof message.role !== 'string' || !CHAT_ROLES.includes(message.role))
      fail(`messages[${i}].role`, `role must be one of ${CHAT_ROLES.join(', ')}`);
    const content = message.content;
    if (
      content !== undefined &&
      content !== null &&
      typeof content !== 'string' &&
      !(Array.isArray(content) && content.every((part) => isObject(part)))
    )
      fail(`messages[${i}].content`, 'content must be a string, an array of content parts or null');
  }
}

/** Throws a 400 ValidationFailedError naming the first bad field of an OpenAI request body. */
export function validateOpenAiRequest(endpoint: ModelEndpoint, body: unknown): Body {
  if (!isObject(body)) fail('body', 'The request body must be a JSON object');
  model(body);
  switch (endpoint) {
    case '/v1/chat/completions':
      messages(body);
      optionalBoolean(body, 'stream');
      streamOptions(body);
      optionalCount(body, 'max_tokens');
      optionalCount(body, 'max_completion_tokens');
      break;
    case '/v1/completions':
      textOrTokens(body, 'prompt');
      optionalBoolean(body, 'stream');
      streamOptions(body);
      optionalCount(body, 'max_tokens');
      break;
    case '/v1/embeddings':
      textOrTokens(body, 'input');
      break;
    case '/v1/responses':
      optionalBoolean(body, 'stream');
      optionalCount(body, 'max_output_tokens');
      break;
  }
  return body;
}
