import Joi from 'joi';
import type { Connection } from 'mongoose';
import { handleEventOnceMongo, type EventBus, type EventEnvelope, type Logger } from '@ecom/common';
import type { InventoryService } from '../domain/inventory';
import type { CommentChange, RatingService } from '../domain/ratings';

export const CONSUMER_GROUP = 'product';

const id = Joi.string().min(1).max(128);
const line = Joi.object({
  productId: id.required(),
  quantity: Joi.number().integer().min(1).max(1_000_000).required(),
}).unknown(true);
const rating = Joi.number().integer().min(1).max(5).allow(null);

/** Payload schemas of the events consumed (docs: /work/notes/event-contracts.md). Extra fields pass. */
const schemas = {
  'order.created': Joi.object({
    orderId: id.required(),
    items: Joi.array().items(line).min(1).max(500).required(),
  }).unknown(true),
  'order.confirmed': Joi.object({ orderId: id.required() }).unknown(true),
  'order.failed': Joi.object({ orderId: id.required() }).unknown(true),
  'order.cancelled': Joi.object({ orderId: id.required() }).unknown(true),
  'comment.created': Joi.object({
    commentId: id.required(),
    productId: id.required(),
    rating: rating.required(),
  }).unknown(true),
  'comment.updated': Joi.object({
    commentId: id.required(),
    productId: id.required(),
    rating: rating.required(),
  }).unknown(true),
  'comment.deleted': Joi.object({ commentId: id.required(), productId: id.required() }).unknown(
    true,
  ),
  'comment.flagged': Joi.object({
    commentId: id.required(),
    productId: id.required(),
    hidden: Joi.boolean().required(),
    flags: Joi.number().integer().min(0).max(1_000_000_000),
  }).unknown(true),
} as const;

export type ConsumedEvent = keyof typeof schemas;
export const CONSUMED_EVENTS = Object.keys(schemas) as ConsumedEvent[];

/** A payload that can never be handled: thrown so the bus dead-letters it with the reason. */
export class InvalidPayloadError extends Error {
  constructor(eventType: string, detail: string) {
    super(`invalid ${eventType} payload: ${detail}`);
    this.name = 'InvalidPayloadError';
  }
}

interface OrderData {
  orderId: string;
  items: Array<{ productId: string; quantity: number }>;
}

export interface ConsumerDeps {
  connection: Connection;
  inventory: InventoryService;
  ratings: RatingService;
  logger: Logger;
}

/** Validates, then runs the handler once per eventId (and idempotently per business key). */
export function createEventHandler(deps: ConsumerDeps) {
  const run = async (event: EventEnvelope): Promise<void> => {
    const type = event.eventType as ConsumedEvent;
    const schema = schemas[type] as Joi.ObjectSchema | undefined;
    if (!schema)
      throw new InvalidPayloadError(event.eventType, 'not an event this service consumes');
    const { value, error } = schema.validate(event.data, { abortEarly: true, convert: false });
    if (error) throw new InvalidPayloadError(event.eventType, error.message);

    await handleEventOnceMongo(deps.connection, CONSUMER_GROUP, event, async () => {
      switch (type) {
        case 'order.created': {
          const data = value as OrderData;
          const items = data.items.map((i) => ({ productId: i.productId, quantity: i.quantity }));
          await deps.inventory.reserve(data.orderId, items);
          return;
        }
        case 'order.confirmed':
          await deps.inventory.confirm((value as OrderData).orderId);
          return;
        case 'order.failed':
          await deps.inventory.release((value as OrderData).orderId, { allowRestock: false });
          return;
        case 'order.cancelled':
          await deps.inventory.release((value as OrderData).orderId, { allowRestock: true });
          return;
        case 'comment.created':
        case 'comment.updated':
        case 'comment.deleted': {
          const data = value as { commentId: string; productId: string; rating?: number | null };
          const change = {
            type: type.slice('comment.'.length),
            commentId: data.commentId,
            productId: data.productId,
            rating: data.rating ?? null,
          } as CommentChange;
          await deps.ratings.apply(change);
          return;
        }
        case 'comment.flagged': {
          const data = value as { commentId: string; productId: string; hidden: boolean };
          // The event's time orders moderation states of one review (they may arrive out of order).
          await deps.ratings.apply({
            type: 'flagged',
            commentId: data.commentId,
            productId: data.productId,
            hidden: data.hidden,
            at: new Date(event.timestamp),
          });
          return;
        }
      }
    });
  };
  return run;
}

export async function subscribeConsumers(
  bus: EventBus,
  handler: (event: EventEnvelope) => Promise<void>,
): Promise<void> {
  await bus.subscribe({ group: CONSUMER_GROUP, eventTypes: [...CONSUMED_EVENTS], handler });
}
