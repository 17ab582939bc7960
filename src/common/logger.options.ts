import type { Params } from 'nestjs-pino';

/**
 * Structured JSON logs. Credentials never reach them: Authorization, cookies and API-key
 * headers are redacted, bodies (which carry client secrets and passwords) are not logged,
 * and query strings are dropped from the logged URL.
 */
export function loggerOptions(level: string): Params {
  return {
    pinoHttp: {
      level,
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["x-api-key"]',
          'res.headers["set-cookie"]',
        ],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: {
          id: unknown;
          method: string;
          url: string;
          headers: Record<string, unknown>;
        }) => ({
          id: req.id,
          method: req.method,
          url: typeof req.url === 'string' ? req.url.split('?')[0] : req.url,
          // Only these headers are logged; a credential is shown as present, never its value.
          headers: {
            'user-agent': req.headers['user-agent'],
            ...(req.headers.authorization ? { authorization: '[redacted]' } : {}),
            ...(req.headers['x-api-key'] ? { 'x-api-key': '[redacted]' } : {}),
          },
        }),
      },
      // The request's one line is written by the RequestObserver (it knows the route pattern and
      // the caller); pino-http still binds the request (its id) to every line logged meanwhile.
      autoLogging: false,
    },
  };
}
