/** The OTEL_* configuration keys, as validated by the shared config schema. */
export interface TracingConfig {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_TRACES_SAMPLER_ARG?: number;
  OTEL_SDK_DISABLED?: boolean;
}

/**
 * Starts tracing when the configuration asks for it (OTEL_EXPORTER_OTLP_ENDPOINT set and
 * OTEL_SDK_DISABLED not true); true when this call started it. Without an endpoint nothing
 * is registered and the SDK is not even loaded: near-zero cost.
 */
export function startTracingFromConfig(config: TracingConfig, defaultService: string): boolean {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT || config.OTEL_SDK_DISABLED === true) return false;
  // Loaded here only: a service without tracing never loads the SDK and the exporter.
  const { startTracing } = require('./setup') as typeof import('./setup');
  return startTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    sampleRatio: config.OTEL_TRACES_SAMPLER_ARG,
    defaultService,
  });
}
