import type { Logger } from '../logging/logger';
import { runWithContext } from '../logging/context';
import { withEventSpan } from '../tracing/event-spans';
import type { EventEnvelope } from './envelope';
import { isPermanentFailure, type EventHandler, type RetryPolicy } from './types';

/**
 * Runs a handler inside the event's context (its correlation id; itself as the cause of any
 * event it publishes; with tracing on, in a `process <type>` span continuing the event's trace)
 * and logs one line per event handled. Rethrows so the adapter retries.
 */
export async function dispatchEvent(
  logger: Logger,
  group: string,
  handler: EventHandler,
  event: EventEnvelope,
  attempt: number,
): Promise<void> {
  const started = performance.now();
  return runWithContext(
    { correlationId: event.metadata.correlationId, causationId: event.eventId },
    // The span covers the log lines too, so they carry its traceId/spanId.
    () =>
      withEventSpan(group, event, attempt, async () => {
        try {
          await handler(event, { attempt });
          // Checked first: building a winston entry costs more than many handlers.
          if (logger.isInfoEnabled())
            logger.info('event handled', {
              group,
              eventType: event.eventType,
              eventId: event.eventId,
              attempt,
              durationMs: Math.round(performance.now() - started),
            });
        } catch (err) {
          logger.warn('event handler failed', {
            group,
            eventType: event.eventType,
            eventId: event.eventId,
            attempt,
            error: err instanceof Error ? err.message : String(err),
          });
          throw err;
        }
      }),
  );
}

/** A failed delivery: the reason, and whether it is dead-lettered now rather than retried. */
export interface DeliveryFailure {
  reason: string;
  deadLetter: boolean;
}

/**
 * dispatchEvent for an adapter: null once handled; on failure, dead-letter when the attempts
 * are used up or no retry can fix it (PermanentEventError), else retry.
 */
export async function dispatchDelivery(
  logger: Logger,
  subscription: { group: string; handler: EventHandler },
  event: EventEnvelope,
  attempt: number,
  policy: RetryPolicy,
): Promise<DeliveryFailure | null> {
  try {
    await dispatchEvent(logger, subscription.group, subscription.handler, event, attempt);
    return null;
  } catch (err) {
    return {
      reason: err instanceof Error ? err.message : String(err),
      deadLetter: attempt >= policy.maxAttempts || isPermanentFailure(err),
    };
  }
}

/** Tracks in-flight handler promises so close() can wait for them. */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
