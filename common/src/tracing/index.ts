export {
  currentService,
  flushTracing,
  inService,
  tracerFor,
  tracingEnabled,
  withService,
} from './state';
export { startTracing, stopTracing, type TracingOptions } from './setup';
export { startTracingFromConfig, type TracingConfig } from './from-config';
export {
  currentTraceparent,
  eventTraceContext,
  inEventContext,
  publishTraceContext,
  withEventSpan,
  withLinkedSpan,
  type TraceCarrier,
} from './event-spans';
export { injectTraceHeaders, traceRequests } from './http-spans';
