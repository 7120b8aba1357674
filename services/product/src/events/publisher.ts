import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@ecom/common/logging';
import type { OutboxEventPublisher } from '@ecom/common/mongo';
import type { Publish } from '../domain/ports';

/** `source` of every envelope this service publishes. */
export const EVENT_SOURCE = 'product-service';

export interface ProductPublishers {
  /**
   * For event handlers: a failed outbox write throws, so the bus redelivers the event that
   * caused it (every step is idempotent).
   */
  fromHandler: Publish;
  /**
   * For HTTP writes: inside a transaction (`events.transaction`) a failed outbox write throws,
   * so the store write rolls back with it; outside one the store write has committed, so an
   * event the outbox could not record is logged and counted, not a 500.
   */
  afterWrite: Publish;
}

/**
 * Every event goes through the MongoDB outbox (recorded and sent at once; the relay re-sends
 * what the bus did not take), counted on /metrics: product_events_published_total{type,result}
 * and product_reservations_total{outcome}.
 */
export function productPublishers(deps: {
  events: OutboxEventPublisher;
  registry: Registry;
  logger: Logger;
}): ProductPublishers {
  const { events, logger } = deps;
  const registers = [deps.registry];
  const published = new Counter({
    name: 'product_events_published_total',
    help: 'Events recorded in the outbox (ok) or lost because the outbox write failed (failed)',
    labelNames: ['type', 'result'],
    registers,
  });
  const reservations = new Counter({
    name: 'product_reservations_total',
    help: 'order.created outcomes',
    labelNames: ['outcome'],
    registers,
  });

  const fromHandler: Publish = async (type, data) => {
    if (type === 'inventory.reserved') reservations.inc({ outcome: 'reserved' });
    if (type === 'inventory.rejected') reservations.inc({ outcome: 'rejected' });
    if (type === 'product.inventory.low') logger.warn('product stock is low', data);
    try {
      await events.publish(type, data);
      published.inc({ type, result: 'ok' });
    } catch (err) {
      published.inc({ type, result: 'failed' });
      throw err;
    }
  };
  const afterWrite: Publish = async (type, data) => {
    try {
      await fromHandler(type, data);
    } catch (err) {
      if (events.inTransaction()) throw err;
      logger.error('event not recorded in the outbox', {
        type,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
  return { fromHandler, afterWrite };
}
