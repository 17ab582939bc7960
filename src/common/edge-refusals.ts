import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import { problem, ProblemDetails } from './problem-details.filter';

/**
 * Longest path parameter the router takes (find-my-way's `maxParamLength`). Ids are at most
 * 128 characters (client ids), key ids 43; Fastify's default of 100 refused a valid 101–128
 * character client id with a 414.
 */
export const MAX_PARAM_LENGTH = 256;

/** What sees a request answered here: the request observer (its log line and metric). */
export interface EdgeObserver {
  /** A request refused before routing; observed like any other once its answer has gone out. */
  refusedBeforeRouting(request: FastifyRequest, reply: FastifyReply): void;
  /** Bytes Node's HTTP parser refused: no request exists, only the status and the parser's code. */
  refusedUnparsed(status: number, code: string | undefined): void;
}

/** The problem for an error raised before any route ran; never quotes the URL back. */
export function routingProblem(error: { code?: string }): ProblemDetails {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return problem(
        400,
        'The request path is not a valid URL (malformed percent-encoding)',
        'validation_failed',
      );
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem(
        414,
        `A path parameter is longer than ${MAX_PARAM_LENGTH} characters`,
        'uri_too_long',
      );
    default:
      return problem(500, 'Internal server error', 'internal_error');
  }
}

/** What llhttp's code (and its fixed `reason` text, never the request's bytes) says was wrong. */
function parserDetail(code: string | undefined, reason: string): string {
  // Both orders of the pair (llhttp's code differs by order): the request-smuggling shape,
  // RFC 9112 §6.1.
  if (/Transfer-Encoding.*Content-Length|Content-Length.*Transfer-Encoding/i.test(reason))
    return 'Transfer-Encoding and Content-Length together are not allowed';
  switch (code) {
    case 'HPE_INVALID_HEADER_TOKEN':
      if (/value char/i.test(reason))
        return 'A request header value contains an invalid character (a control character)';
      if (/whitespace/i.test(reason))
        return 'A request header is malformed (whitespace where none is allowed, or a folded line)';
      return 'A request header name contains an invalid character';
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      if (/duplicate/i.test(reason)) return 'Content-Length is sent more than once';
      return code === 'HPE_INVALID_TRANSFER_ENCODING'
        ? 'Transfer-Encoding is not valid (chunked, last, is the only coding read)'
        : 'Content-Length is not expected here';
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'Content-Length is not a valid number';
    case 'HPE_INVALID_CHUNK_SIZE':
      return 'A chunk size of the chunked body is not valid';
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 'The chunk extensions are too large';
    case 'HPE_INVALID_METHOD':
      return 'The request method is not valid';
    case 'HPE_INVALID_URL':
      return 'The request target is not a valid URL';
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_CONSTANT':
    case 'HPE_CR_EXPECTED':
    case 'HPE_LF_EXPECTED':
      return 'The request line is malformed (expected METHOD /path HTTP/1.1 and CRLF)';
    default:
      return 'The request is not valid HTTP/1.1';
  }
}

/**
 * The problem for bytes Node's HTTP parser refused (no request object exists), naming what was
 * wrong from the parser's code: a control character in a header, Transfer-Encoding beside
 * Content-Length, headers over Node's limit (16 KB unless `--max-http-header-size`).
 */
export function parserProblem(error: { code?: string; reason?: unknown }): ProblemDetails {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problem(408, 'The request was not received in time', 'request_timeout');
    case 'HPE_HEADER_OVERFLOW':
      return problem(
        431,
        `The request headers are too large (max ${Math.floor(maxHeaderSize / 1024)} KB)`,
        'headers_too_large',
      );
    default:
      return problem(
        400,
        parserDetail(error.code, typeof error.reason === 'string' ? error.reason : ''),
        'bad_request',
      );
  }
}

/**
 * Requests refused before routing get the answer every other error gets: problem+json, an
 * `x-request-id`, a log line and the request-duration metric (route `unmatched`). Before, Fastify
 * answered them itself — its own JSON, the whole URL quoted back (3 KB for a 414), no request id,
 * no log line, no metric:
 * - a path that is not valid percent-encoding (`/admin/roles/%ED%A0%80`, FST_ERR_BAD_URL) or a path
 *   parameter longer than {@link MAX_PARAM_LENGTH} (FST_ERR_MAX_PARAM_LENGTH): Fastify's
 *   `frameworkErrors`, which has a request;
 * - bytes Node's parser refuses (`FOO /health`, a header too large): Fastify's
 *   `clientErrorHandler`, which has only the socket. The answer is written on it with
 *   `Connection: close` (the connection cannot be parsed further), and logged without a request.
 *
 * The handlers exist before the application (they are Fastify options); the observer is set once
 * the application's modules are up. Until then (or without one) the answers are still made.
 */
export class EdgeRefusals {
  observer?: EdgeObserver;

  readonly frameworkErrors = (
    error: FastifyError,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void => {
    const body = routingProblem(error);
    reply.raw.once('finish', () => this.observer?.refusedBeforeRouting(request, reply));
    void reply
      .header('x-request-id', request.id)
      .status(body.status)
      .type('application/problem+json')
      .send(body);
  };

  readonly clientErrorHandler = (error: Error & { code?: string }, socket: Socket): void => {
    // A reset connection, or one already gone: nothing to answer, nothing was asked.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const body = parserProblem(error);
    this.observer?.refusedUnparsed(body.status, error.code);
    if (socket.writable) {
      const text = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status]}\r\n` +
          `Content-Type: application/problem+json\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\n` +
          `Connection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy(error);
  };
}
