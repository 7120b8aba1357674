import { createEvent, type EventBus, type EventEnvelope, type Logger } from '@ecom/common';
import type { UserEventData } from './domain/user';
import type { OutboxStore } from './store/outbox-store';

export const EVENT_SOURCE = 'auth-service';

/** Sent outbox rows are kept this long (for debugging), then purged by the relay. */
const SENT_RETENTION_MS = 24 * 3600 * 1000;

export type UserEvent =
  | { type: 'user.created'; data: UserEventData }
  | { type: 'user.updated'; data: UserEventData }
  | { type: 'user.deleted'; data: { userId: string } };

export interface OutboxRelayOptions {
  intervalMs: number;
  /** Delay before a failed send is tried again (grows with the attempts, capped). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** How long the relay leaves an event it just wrote to the direct send. */
  directSendGraceMs?: number;
  /** Warn (alert) once an event has failed this many times. */
  alertAfterAttempts?: number;
}

/**
 * User events go through a small MongoDB outbox: the row is written right after the user
 * change, sent at once, and a relay re-sends every row the bus did not accept (bus down,
 * process killed mid-send) until it does. Delivery is therefore at-least-once; consumers
 * deduplicate by eventId. MongoDB has no transaction here, so a crash between the user
 * write and the outbox insert can still lose that one event (README, "Events").
 */
export function createUserEventPublisher(deps: {
  bus: EventBus;
  outbox: OutboxStore;
  logger: Logger;
  now: () => Date;
  relay: OutboxRelayOptions;
}) {
  const { bus, outbox, logger, now } = deps;
  const retryBaseMs = deps.relay.retryBaseMs ?? 1000;
  const retryMaxMs = deps.relay.retryMaxMs ?? 60_000;
  const graceMs = deps.relay.directSendGraceMs ?? 5000;
  const alertAfter = deps.relay.alertAfterAttempts ?? 10;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  async function send(event: EventEnvelope): Promise<void> {
    await bus.publish(event);
    await outbox.markSent(event.eventId, now());
  }

  /** Records the event, then tries to send it now; a failed send is left to the relay. */
  async function publish(event: UserEvent): Promise<EventEnvelope> {
    const envelope = createEvent(EVENT_SOURCE, event.type, event.data);
    const at = now();
    await outbox.add(envelope, at, new Date(at.getTime() + graceMs));
    try {
      await send(envelope);
    } catch (err) {
      logger.warn('event publish failed; the outbox relay will retry', {
        eventType: envelope.eventType,
        eventId: envelope.eventId,
        error: err instanceof Error ? err.message : String(err),
      });
    }
    return envelope;
  }

  /** Sends every due unsent event once; returns how many were sent. */
  async function flushOnce(): Promise<number> {
    let sent = 0;
    for (;;) {
      const at = now();
      const row = await outbox.claimDue(at, new Date(at.getTime() + graceMs));
      if (!row) return sent;
      try {
        await send(row.event);
        sent += 1;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, row.attempts - 1));
        await outbox.recordFailure(row._id, message, new Date(at.getTime() + delay));
        const level = row.attempts >= alertAfter ? 'error' : 'warn';
        logger.log(level, 'outbox relay send failed', {
          eventId: row._id,
          eventType: row.event.eventType,
          attempts: row.attempts,
          error: message,
        });
        // The bus is failing: stop this round instead of hammering it with the rest.
        return sent;
      }
    }
  }

  /** One flush at a time (the timer and a test may both ask). */
  function flush(): Promise<number> {
    running ??= flushOnce().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    publish,
    flush,
    start(): void {
      if (timer) return;
      const tick = () => {
        flush()
          .then(() => outbox.purgeSent(new Date(now().getTime() - SENT_RETENTION_MS)))
          .catch((err: unknown) =>
            logger.error('outbox relay round failed', {
              error: err instanceof Error ? err.message : String(err),
            }),
          )
          .finally(() => {
            if (timer) timer = setTimeout(tick, deps.relay.intervalMs);
          });
      };
      timer = setTimeout(tick, deps.relay.intervalMs);
    },
    async stop(): Promise<void> {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}

export type UserEventPublisher = ReturnType<typeof createUserEventPublisher>;
