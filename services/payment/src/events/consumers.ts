import Joi from 'joi';
import type { Pool, PoolClient } from 'pg';
import {
  InFlight,
  handleEventOnce,
  type EventBus,
  type EventEnvelope,
  type Logger,
} from '@ecom/common';
import type { FollowUp, Payments } from '../payments';

export const CONSUMER_GROUP = 'payment';

const id = Joi.string().max(128).required();

/** Payload schemas of what payment consumes (docs/events.md); extra fields are tolerated. */
const schemas: Record<string, Joi.ObjectSchema> = {
  'order.created': Joi.object({
    orderId: id,
    userId: id,
    total: Joi.object({
      amount: Joi.number().integer().min(0).max(Number.MAX_SAFE_INTEGER).required(),
      currency: Joi.string()
        .pattern(/^[A-Z]{3}$/)
        .required(),
    })
      .unknown(true)
      .required(),
    payment: Joi.object({
      method: Joi.string().max(50).required(),
      token: Joi.string().max(200).required(),
    })
      .unknown(true)
      .allow(null),
  }).unknown(true),
  'inventory.reserved': Joi.object({ orderId: id }).unknown(true),
  'inventory.rejected': Joi.object({ orderId: id }).unknown(true),
  'order.cancelled': Joi.object({ orderId: id }).unknown(true),
};

export interface ConsumerHandle {
  /** Refuses further deliveries (unacknowledged, so redelivered) and waits for running ones. */
  stop(): Promise<void>;
}

type Handler = (client: PoolClient, event: EventEnvelope<never>) => Promise<FollowUp | null>;

/**
 * Subscribes payment to the saga. Each event's effects commit with its id (handled once);
 * the gateway call a handler claimed runs after that commit, so a redelivered event finds
 * the claim and never calls the gateway again.
 */
export async function subscribePaymentConsumers(deps: {
  bus: EventBus;
  pool: Pool;
  payments: Payments;
  logger: Logger;
}): Promise<ConsumerHandle> {
  const inFlight = new InFlight();
  let stopped = false;
  const { payments } = deps;
  const handlers: Record<string, Handler> = {
    'order.created': (c, e) => payments.onOrderCreated(c, e),
    'inventory.reserved': (c, e) => payments.onInventoryReserved(c, e),
    'inventory.rejected': (c, e) => payments.onInventoryRejected(c, e),
    'order.cancelled': (c, e) => payments.onOrderCancelled(c, e),
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
    let followUp: FollowUp | null = null;
    const outcome = await handleEventOnce(deps.pool, CONSUMER_GROUP, event, async (client) => {
      followUp = await handler(client, { ...event, data: value } as EventEnvelope<never>);
    });
    if (outcome === 'duplicate') {
      deps.logger.info('duplicate event ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
      });
      return;
    }
    await payments.runFollowUp(followUp);
  }
}
