import { tracesOnlyByDefault } from './tracing';

describe('tracesOnlyByDefault', () => {
  it('turns off the OTLP metrics and logs the SDK would start when their variables are unset', () => {
    expect(tracesOnlyByDefault({})).toEqual({ metricReaders: [], logRecordProcessors: [] });
    expect(tracesOnlyByDefault({ OTEL_METRICS_EXPORTER: ' ' })).toEqual({
      metricReaders: [],
      logRecordProcessors: [],
    });
  });

  it('leaves them to the SDK (which reads the variables) when set explicitly', () => {
    expect(tracesOnlyByDefault({ OTEL_METRICS_EXPORTER: 'otlp' })).toEqual({
      logRecordProcessors: [],
    });
    expect(
      tracesOnlyByDefault({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_LOGS_EXPORTER: 'otlp' }),
    ).toEqual({});
  });
});
