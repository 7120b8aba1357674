import Joi from 'joi';
import type { Pool, PoolClient } from 'pg';
import {
  InFlight,
  handleEventOnce,
  type EventBus,
  type EventEnvelope,
  type Logger,
} from '@ecom/common';
import type { Orders } from '../orders';

export const CONSUMER_GROUP = 'order';

const id = Joi.string().max(128).required();
const money = Joi.object({
  amount: Joi.number().integer().min(0).required(),
  currency: Joi.string().length(3).required(),
}).unknown(true);

/** Payload schemas of what order consumes (docs/events.md); extra fields are tolerated. */
const schemas: Record<string, Joi.ObjectSchema> = {
  'inventory.reserved': Joi.object({ orderId: id }).unknown(true),
  'inventory.rejected': Joi.object({
    orderId: id,
    productId: Joi.string().max(128).allow(null),
    reason: Joi.string().max(200),
  }).unknown(true),
  'payment.initiated': Joi.object({
    orderId: id,
    paymentId: id,
    attempt: Joi.number().integer().min(1),
  }).unknown(true),
  'payment.completed': Joi.object({ orderId: id, paymentId: id, amount: money }).unknown(true),
  'payment.failed': Joi.object({
    orderId: id,
    paymentId: Joi.string().max(128),
    reason: Joi.string().max(500).allow(''),
    code: Joi.string().max(100),
    retryable: Joi.boolean().required(),
    attempt: Joi.number().integer().min(1),
  }).unknown(true),
  'payment.refunded': Joi.object({ orderId: id, paymentId: id, amount: money.required() }).unknown(
    true,
  ),
};

export interface ConsumerHandle {
  /** Refuses further deliveries (unacknowledged, so redelivered) and waits for running ones. */
  stop(): Promise<void>;
}

type Handler = (client: PoolClient, event: EventEnvelope<never>) => Promise<void>;

/**
 * Subscribes the order service to the saga's events. Each event is handled at most once
 * (its id is recorded in the same transaction as its effects); an invalid payload is
 * logged and acknowledged, since no retry can fix it.
 */
export async function subscribeOrderConsumers(deps: {
  bus: EventBus;
  pool: Pool;
  orders: Orders;
  logger: Logger;
}): Promise<ConsumerHandle> {
  const inFlight = new InFlight();
  let stopped = false;
  const { orders } = deps;
  const handlers: Record<string, Handler> = {
    'inventory.reserved': (c, e) => orders.onInventoryReserved(c, e),
    'inventory.rejected': (c, e) => orders.onInventoryRejected(c, e),
    'payment.initiated': (c, e) => orders.onPaymentInitiated(c, e),
    'payment.completed': (c, e) => orders.onPaymentCompleted(c, e),
    'payment.failed': (c, e) => orders.onPaymentFailed(c, e),
    'payment.refunded': (c, e) => orders.onPaymentRefunded(c, e),
  };
  await deps.bus.subscribe({
    group: CONSUMER_GROUP,
    eventTypes: Object.keys(handlers),
    handler: (event) => {
      // A stopped service acknowledges nothing: the bus redelivers to its successor.
      if (stopped) return Promise.reject(new Error(`${CONSUMER_GROUP} consumer is stopped`));
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
    const handler = handlers[event.eventType];
    const schema = schemas[event.eventType];
    if (!handler || !schema) return;
    const { error, value } = schema.validate(event.data);
    if (error) {
      deps.logger.error('invalid event payload ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
        error: error.message,
      });
      return;
    }
    const outcome = await handleEventOnce(deps.pool, CONSUMER_GROUP, event, (client) =>
      handler(client, { ...event, data: value } as EventEnvelope<never>),
    );
    if (outcome === 'duplicate') {
      deps.logger.info('duplicate event ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
      });
    }
  }
}
