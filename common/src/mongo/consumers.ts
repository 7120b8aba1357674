import type { Connection } from 'mongoose';
import { subscribeTracked } from '../bus/consumer';
import type { ConsumerDeps, ConsumerHandle, ContractEvent, SkipRules } from '../bus/consumer';
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
  /**
   * Events whose handler claims its business key with its own first write (a record keyed by
   * it, or a conditional update that names the state it leaves), so a redelivery finds the
   * claim and only repeats what is safe to repeat. They run without the processed marker: two
   * writes fewer per event, and one fewer before the handler's first. A redelivered one runs
   * again (counted 'handled', not 'duplicate').
   */
  keyedHandlers?: readonly NoInfer<T>[];
  /** Events acknowledged without a marker or the handler (see SkipRules). */
  skip?: SkipRules<NoInfer<T>>;
}

/**
 * The MongoDB consumer kit: payloads checked against their contracts (an invalid one is
 * dead-lettered with the reason), each event run once per eventId (a processed marker; the
 * handlers are idempotent by business key too, since the marker and their writes are not one
 * transaction) unless its type is one of `keyedHandlers`, in-flight handlers awaited by stop().
 */
export function subscribeMongoConsumers<T extends EventType>(
  options: MongoConsumerOptions<T>,
): Promise<ConsumerHandle> {
  const { connection, group, handlers } = options;
  const keyed = new Set<string>(options.keyedHandlers ?? []);
  const handlerOf = (event: ContractEvent<T>) =>
    handlers[event.eventType as T] as (e: ContractEvent<T>) => Promise<void>;
  return subscribeTracked({
    storeUp: () => pingMongo(connection),
    ...options,
    eventTypes: Object.keys(handlers) as T[],
    run: async (event) => {
      if (keyed.has(event.eventType)) {
        await handlerOf(event)(event);
        return 'handled';
      }
      return handleEventOnceMongo(connection, group, event, () => handlerOf(event)(event), {
        leaseMs: options.leaseMs,
      });
    },
  });
}
