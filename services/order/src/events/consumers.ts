import Joi from 'joi';
import type { Pool } from 'pg';
import {
  subscribePgConsumers,
  type ConsumerHandle,
  type EventBus,
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
const schemas = {
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
  'user.deleted': Joi.object({ userId: id }).unknown(true),
} satisfies Record<string, Joi.ObjectSchema>;

/**
 * Subscribes the order service to the saga's events. Each event is handled at most once
 * (its id is recorded in the same transaction as its effects); an invalid payload is
 * logged and acknowledged, since no retry can fix it.
 */
export function subscribeOrderConsumers(deps: {
  bus: EventBus;
  pool: Pool;
  orders: Orders;
  logger: Logger;
}): Promise<ConsumerHandle> {
  const { orders } = deps;
  return subscribePgConsumers({
    ...deps,
    group: CONSUMER_GROUP,
    handlers: {
      'inventory.reserved': {
        schema: schemas['inventory.reserved'],
        handle: (c, e) => orders.onInventoryReserved(c, e),
      },
      'inventory.rejected': {
        schema: schemas['inventory.rejected'],
        handle: (c, e) => orders.onInventoryRejected(c, e),
      },
      'payment.initiated': {
        schema: schemas['payment.initiated'],
        handle: (c, e) => orders.onPaymentInitiated(c, e),
      },
      'payment.completed': {
        schema: schemas['payment.completed'],
        handle: (c, e) => orders.onPaymentCompleted(c, e),
      },
      'payment.failed': {
        schema: schemas['payment.failed'],
        handle: (c, e) => orders.onPaymentFailed(c, e),
      },
      'payment.refunded': {
        schema: schemas['payment.refunded'],
        handle: (c, e) => orders.onPaymentRefunded(c, e),
      },
      'user.deleted': {
        schema: schemas['user.deleted'],
        handle: (c, e) => orders.onUserDeleted(c, e),
      },
    },
  });
}
