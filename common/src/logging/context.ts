import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line and every event caused by a request or an event carries along. */
export interface RequestContext {
  correlationId: string;
  requestId?: string;
  /** The event being handled, so events it causes name it as their causationId. */
  causationId?: string;
  userId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function getContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The current correlation id, or a fresh one when nothing is in flight (e.g. a timer). */
export function currentCorrelationId(): string {
  return storage.getStore()?.correlationId ?? randomUUID();
}
