import type { Pool, PoolClient } from 'pg';
import { subscribeTracked } from '../bus/consumer';
import type { ConsumerDeps, ConsumerHandle, ContractEvent, SkipRules } from '../bus/consumer';
import type { EventType } from '../events/contracts';
import { handleEventOnce } from './processed-events';

/** One handler per consumed event type, run inside the handled-once transaction. */
export type PgHandlers<T extends EventType, R> = {
  [K in T]: (client: PoolClient, event: ContractEvent<K>) => Promise<R>;
};

export interface PgConsumerOptions<T extends EventType, R = void> extends ConsumerDeps {
  pool: Pool;
  /** Consumer group on the bus and key in processed_events. */
  group: string;
  handlers: PgHandlers<T, R>;
  /**
   * Runs after the handler's transaction committed (not for duplicates), with what the handler
   * returned: e.g. a call to an outside system that must not run twice.
   */
  afterCommit?: (result: R) => Promise<void>;
  /** Events acknowledged without the handler or a transaction (see SkipRules). */
  skip?: SkipRules<NoInfer<T>>;
}

/**
 * The PostgreSQL consumer kit: payloads checked against their contracts (an invalid one is
 * dead-lettered with the reason), each event's effects committed together with its id in
 * processed_events (handled once), in-flight handlers awaited by stop().
 */
export function subscribePgConsumers<T extends EventType, R = void>(
  options: PgConsumerOptions<T, R>,
): Promise<ConsumerHandle> {
  const { pool, group, handlers } = options;
  return subscribeTracked({
    storeUp: async () => void (await pool.query('SELECT 1')),
    ...options,
    eventTypes: Object.keys(handlers) as T[],
    async run(event) {
      const handler = handlers[event.eventType as T] as (
        client: PoolClient,
        event: ContractEvent<T>,
      ) => Promise<R>;
      let result: R | undefined;
      const outcome = await handleEventOnce(pool, group, event, async (client) => {
        result = await handler(client, event);
      });
      if (outcome === 'handled' && options.afterCommit) await options.afterCommit(result as R);
      return outcome;
    },
  });
}
