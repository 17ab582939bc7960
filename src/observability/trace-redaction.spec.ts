import { tracing } from '@opentelemetry/sdk-node';
import { QueryRedactingSpanProcessor, redactQueryString, redactUrl } from './trace-redaction';

describe('redactQueryString / redactUrl', () => {
  it('keeps parameter names and replaces every value', () => {
    expect(redactQueryString('access_token=eyJabc&parent_jti=123')).toBe(
      'access_token=[redacted]&parent_jti=[redacted]',
    );
    expect(redactQueryString('client_secret=s3cr3t=x')).toBe('client_secret=[redacted]');
    // A part without a name: it may be the secret itself.
    expect(redactQueryString('tsk_live_abcdef')).toBe('[redacted]');
    expect(redactQueryString('')).toBe('');
  });

  it('redacts the query of a path or an absolute URL, and leaves URLs without one alone', () => {
    expect(redactUrl('/v1/models?api_key=KEY123')).toBe('/v1/models?api_key=[redacted]');
    expect(redactUrl('http://upstream:8000/v1/chat?key=K#frag')).toBe(
      'http://upstream:8000/v1/chat?key=[redacted]',
    );
    expect(redactUrl('/admin/keys')).toBe('/admin/keys');
    // A credential sent as a path segment.
    expect(redactUrl(`/tokens/rt_${'Q'.repeat(43)}?x=1`)).toBe('/tokens/[redacted]?x=[redacted]');
    expect(redactUrl('/x?')).toBe('/x?');
  });
});

describe('QueryRedactingSpanProcessor', () => {
  it('rewrites URL attributes before the exporting processor sees the span', async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const provider = new tracing.BasicTracerProvider({
      spanProcessors: [
        new QueryRedactingSpanProcessor(),
        new tracing.SimpleSpanProcessor(exporter),
      ],
    });
    const span = provider.getTracer('test').startSpan('GET /v1/models', {
      attributes: {
        'url.full': '/v1/models?access_token=SECRET1',
        'url.query': 'access_token=SECRET1',
        'url.path': '/v1/models',
        'http.target': '/v1/models?client_secret=SECRET2',
        'http.url': 'http://127.0.0.1:3000/v1/models?client_secret=SECRET2',
      },
    });
    span.end();
    await provider.forceFlush();
    const [exported] = exporter.getFinishedSpans();
    expect(exported.attributes).toEqual({
      'url.full': '/v1/models?access_token=[redacted]',
      'url.query': 'access_token=[redacted]',
      'url.path': '/v1/models',
      'http.target': '/v1/models?client_secret=[redacted]',
      'http.url': 'http://127.0.0.1:3000/v1/models?client_secret=[redacted]',
    });
    expect(JSON.stringify(exported.attributes)).not.toMatch(/SECRET/);
    await provider.shutdown();
  });
});
