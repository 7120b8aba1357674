import type Joi from 'joi';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../logging/logger';
import { InFlight } from './dispatch';
import type { EventEnvelope } from './envelope';
import { handleEventOnce } from './idempotency';
import type { EventBus } from './types';

/** One consumed event type: its payload schema and what to do inside the handled-once transaction. */
export interface PgEventHandler<R = void> {
  /** Validated before the transaction; the handler receives the validated (converted) value. */
  schema: Joi.ObjectSchema;
  handle: (client: PoolClient, event: EventEnvelope<never>) => Promise<R>;
}

export interface PgConsumerOptions<R = void> {
  bus: EventBus;
  pool: Pool;
  /** Consumer group on the bus and key in processed_events. */
  group: string;
  handlers: Record<string, PgEventHandler<R>>;
  logger: Logger;
  /**
   * Runs after the handler's transaction committed (not for duplicates), with what the handler
   * returned: e.g. a call to an outside system that must not run twice.
   */
  afterCommit?: (result: R) => Promise<void>;
}

export interface ConsumerHandle {
  /** Refuses further deliveries (unacknowledged, so redelivered) and waits for running ones. */
  stop(): Promise<void>;
}

/**
 * Subscribes `group` to the event types in `handlers`. Each event is handled at most once (its
 * id is recorded in the same transaction as its effects); an invalid payload is logged and
 * acknowledged, since no retry can fix it.
 */
export async function subscribePgConsumers<R = void>(
  options: PgConsumerOptions<R>,
): Promise<ConsumerHandle> {
  const { bus, pool, group, handlers, logger } = options;
  const inFlight = new InFlight();
  let stopped = false;
  await bus.subscribe({
    group,
    eventTypes: Object.keys(handlers),
    handler: (event) => {
      // A stopped service acknowledges nothing: the bus redelivers to its successor.
      if (stopped) return Promise.reject(new Error(`${group} consumer is stopped`));
      return inFlight.track(handle(event));
    },
  });
  return {
    async stop() {
      stopped = true;
      await inFlight.drain();
    },
  };

  async function handle(event: EventEnvelope): Promise<void> {
    const entry = Object.hasOwn(handlers, event.eventType) ? handlers[event.eventType] : undefined;
    if (!entry) return;
    const { error, value } = entry.schema.validate(event.data);
    if (error) {
      logger.error('invalid event payload ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
        error: error.message,
      });
      return;
    }
    let result: R | undefined;
    const outcome = await handleEventOnce(pool, group, event, async (client) => {
      result = await entry.handle(client, { ...event, data: value } as EventEnvelope<never>);
    });
    if (outcome === 'duplicate') {
      logger.info('duplicate event ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
      });
      return;
    }
    if (options.afterCommit) await options.afterCommit(result as R);
  }
}
