import type { Connection } from 'mongoose';
import { subscribeTracked } from '../bus/consumer';
import type { ConsumerDeps, ConsumerHandle, ContractEvent } from '../bus/consumer';
import type { EventType } from '../events/contracts';
import { pingMongo } from './connection';
import { handleEventOnceMongo } from './processed-events';

/** One handler per consumed event type. */
export type MongoHandlers<T extends EventType> = {
  [K in T]: (event: ContractEvent<K>) => Promise<void>;
};

export interface MongoConsumerOptions<T extends EventType> extends ConsumerDeps {
  connection: Connection;
  /** Consumer group on the bus and key prefix in processed_events. */
  group: string;
  handlers: MongoHandlers<T>;
  /** How long a delivery owns its processing marker (handleEventOnceMongo). */
  leaseMs?: number;
}

/**
 * The MongoDB consumer kit: payloads checked against their contracts (an invalid one is
 * dead-lettered with the reason), each event run once per eventId (a processed marker; the
 * handlers are idempotent by business key too, since the marker and their writes are not one
 * transaction), in-flight handlers awaited by stop().
 */
export function subscribeMongoConsumers<T extends EventType>(
  options: MongoConsumerOptions<T>,
): Promise<ConsumerHandle> {
  const { connection, group, handlers } = options;
  return subscribeTracked({
    storeUp: () => pingMongo(connection),
    ...options,
    eventTypes: Object.keys(handlers) as T[],
    run: (event) =>
      handleEventOnceMongo(
        connection,
        group,
        event,
        () => (handlers[event.eventType as T] as (e: ContractEvent<T>) => Promise<void>)(event),
        { leaseMs: options.leaseMs },
      ),
  });
}
