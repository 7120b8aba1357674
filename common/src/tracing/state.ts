import {
  context,
  createContextKey,
  ROOT_CONTEXT,
  trace,
  type Context,
  type Tracer,
} from '@opentelemetry/api';

/**
 * What the helpers the bus, the outbox and the kit call need to know, on the OpenTelemetry
 * API alone: the SDK (setup.ts) is loaded only when tracing is switched on, and off, every
 * helper returns after reading `active`.
 */
export interface ActiveTracing {
  tracerFor(service: string): Tracer;
  flush(): Promise<void>;
  defaultService?: string;
}

let active: ActiveTracing | undefined;

/** Set by setup.ts when tracing starts and stops. */
export function setActiveTracing(tracing: ActiveTracing | undefined): void {
  active = tracing;
}

/** True once tracing is started in this process. */
export function tracingEnabled(): boolean {
  return active !== undefined;
}

/** The tracer of a service (its own provider and resource). Off: the API's no-op tracer. */
export function tracerFor(service: string): Tracer {
  return active ? active.tracerFor(service) : trace.getTracer(service);
}

/** The service spans go to when no service's work is active (e.g. a fetch from a timer). */
export function defaultService(): string {
  return active?.defaultService ?? 'ecom';
}

/** Exports every finished span now (a stopping service calls it). */
export async function flushTracing(): Promise<void> {
  await active?.flush();
}

/** Which service the current work belongs to (set by the server and consumer spans). */
const SERVICE_KEY = createContextKey('ecom.service');

/** `ctx` (default: the active one) marked as belonging to `service`. */
export function withService(service: string, ctx: Context = context.active()): Context {
  return ctx.setValue(SERVICE_KEY, service);
}

/** The service the active work belongs to, if a service span set one. */
export function currentService(ctx: Context = context.active()): string | undefined {
  return ctx.getValue(SERVICE_KEY) as string | undefined;
}

/**
 * Runs `fn` as `service`'s work, outside any trace: what it starts (a worker's loop, its
 * timers) keeps that context, so spans it opens later are the service's and start traces of
 * their own. Off: just runs it.
 */
export function inService<T>(service: string, fn: () => T): T {
  if (!active) return fn();
  return context.with(withService(service, ROOT_CONTEXT), fn);
}
