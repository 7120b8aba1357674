import Joi from 'joi';
import type { Pool } from 'pg';
import {
  subscribePgConsumers,
  type ConsumerHandle,
  type EventBus,
  type Logger,
} from '@ecom/common';
import type { FollowUp, Payments } from '../payments';

export const CONSUMER_GROUP = 'payment';

const id = Joi.string().max(128).required();

/** Payload schemas of what payment consumes (docs/events.md); extra fields are tolerated. */
const schemas = {
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
  'order.failed': Joi.object({ orderId: id }).unknown(true),
  'order.payment.overdue': Joi.object({ orderId: id }).unknown(true),
} satisfies Record<string, Joi.ObjectSchema>;

/**
 * Subscribes payment to the saga. Each event's effects commit with its id (handled once);
 * the gateway call a handler claimed runs after that commit, so a redelivered event finds
 * the claim and never calls the gateway again.
 */
export function subscribePaymentConsumers(deps: {
  bus: EventBus;
  pool: Pool;
  payments: Payments;
  logger: Logger;
}): Promise<ConsumerHandle> {
  const { payments } = deps;
  return subscribePgConsumers<FollowUp | null>({
    ...deps,
    group: CONSUMER_GROUP,
    handlers: {
      'order.created': {
        schema: schemas['order.created'],
        handle: (c, e) => payments.onOrderCreated(c, e),
      },
      'inventory.reserved': {
        schema: schemas['inventory.reserved'],
        handle: (c, e) => payments.onInventoryReserved(c, e),
      },
      'inventory.rejected': {
        schema: schemas['inventory.rejected'],
        handle: (c, e) => payments.onInventoryRejected(c, e),
      },
      'order.cancelled': {
        schema: schemas['order.cancelled'],
        handle: (c, e) => payments.onOrderCancelled(c, e),
      },
      'order.failed': {
        schema: schemas['order.failed'],
        handle: (c, e) => payments.onOrderFailed(c, e),
      },
      'order.payment.overdue': {
        schema: schemas['order.payment.overdue'],
        handle: (c, e) => payments.onPaymentOverdue(c, e),
      },
    },
    afterCommit: (followUp) => payments.runFollowUp(followUp),
  });
}
