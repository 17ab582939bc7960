import type { Context } from '@opentelemetry/api';
import type { tracing } from '@opentelemetry/sdk-node';
import { redactCredentialSegments } from '../common/credential-shape';

/**
 * Span attributes that hold a URL or its query string: the http and Nest instrumentations record
 * the request's (`url.query`, `url.full`; `http.target`, `http.url` under the old conventions),
 * undici the upstream's.
 */
const URL_ATTRIBUTES = ['url.query', 'url.full', 'url.path', 'http.target', 'http.url'] as const;

const REDACTED = '[redacted]';

/**
 * A query string's values replaced by `[redacted]`, the parameter names kept
 * (`access_token=abc&parent_jti=x` → `access_token=[redacted]&parent_jti=[redacted]`); a part
 * without `=` is redacted whole. Tessera takes no credential in a query string, but a caller may
 * send one (`?access_token=…`, `?client_secret=…`), and the request log drops query strings for
 * that reason: a trace must not carry them to the collector either.
 */
export function redactQueryString(query: string): string {
  if (query === '') return query;
  return query
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      return equals < 0 ? REDACTED : `${part.slice(0, equals)}=${REDACTED}`;
    })
    .join('&');
}

/**
 * A URL (absolute, or a path) with its query string's values redacted and any path segment that
 * is a credential (`DELETE /tokens/<a refresh token>`) too; the fragment dropped.
 */
export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const withoutFragment = hash < 0 ? url : url.slice(0, hash);
  const question = withoutFragment.indexOf('?');
  if (question < 0) return redactCredentialSegments(withoutFragment);
  return `${redactCredentialSegments(withoutFragment.slice(0, question))}?${redactQueryString(withoutFragment.slice(question + 1))}`;
}

/**
 * Rewrites a span's URL attributes as it starts (the instrumentations set them when they create
 * the span, before the processors' `onStart`), ahead of the exporting processor in the SDK's
 * list, so no query value reaches the exporter.
 */
export class QueryRedactingSpanProcessor implements tracing.SpanProcessor {
  onStart(span: tracing.Span, _context: Context): void {
    for (const key of URL_ATTRIBUTES) {
      const value = span.attributes[key];
      if (typeof value !== 'string') continue;
      const redacted = key === 'url.query' ? redactQueryString(value) : redactUrl(value);
      if (redacted !== value) span.setAttribute(key, redacted);
    }
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
