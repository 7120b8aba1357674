import type { Connection } from 'mongoose';
import type { ConsumerDeps, ConsumerHandle } from '@ecom/common/bus';
import { subscribeMongoConsumers } from '@ecom/common/mongo';
import type { CatalogService } from '../application/catalog';
import type { InventoryService } from '../application/inventory';
import type { RatingService } from '../application/ratings';

export const CONSUMER_GROUP = 'product';

const SAGA_EVENTS = [
  'order.created',
  'order.confirmed',
  'order.failed',
  'order.cancelled',
] as const;

/**
 * What product consumes: the order saga (stock), reviews (rating aggregates) and deleted
 * accounts (a seller's products come off sale). Payloads are
 * checked against common's contracts, and every handler is idempotent by business key
 * (orderId, commentId).
 *
 * The saga's events run without the kit's processed marker (`keyedHandlers`): the reservation
 * record is their once-only guard. Its insert claims the order for order.created, and every
 * later step is a conditional move of it (reserved → sold, reserved → released) or of a hold
 * (each hold moves at most once). The marker would cost two writes per event, one of them before
 * the first stock move, to spare a redelivery a read. A redelivered order.created finds its
 * reservation and announces the stored outcome again, which order ignores as a step already
 * taken. Reviews keep the marker: they are not on the checkout's path.
 */
export function subscribeProductConsumers(
  deps: ConsumerDeps & {
    connection: Connection;
    inventory: InventoryService;
    ratings: RatingService;
    catalog: CatalogService;
  },
): Promise<ConsumerHandle> {
  const { inventory, ratings, catalog } = deps;
  return subscribeMongoConsumers({
    ...deps,
    group: CONSUMER_GROUP,
    keyedHandlers: SAGA_EVENTS,
    handlers: {
      'order.created': async ({ data }) => {
        // Every line is charged in the order's one currency.
        const lines = data.items.map(({ productId, quantity, unitPrice }) => ({
          productId,
          quantity,
          unitPrice,
          currency: data.total.currency,
        }));
        await inventory.reserve(data.orderId, lines);
      },
      'order.confirmed': async ({ data }) => {
        await inventory.confirm(data.orderId);
      },
      'order.failed': async ({ data }) => {
        await inventory.release(data.orderId, { allowRestock: false });
      },
      'order.cancelled': async ({ data }) => {
        // A partly shipped order ended by a full refund: only its lines not shipped come back.
        // Any other cancelled order shipped nothing, and all of its sale comes back.
        const partlyShipped = data.previousStatus === 'PARTIALLY_SHIPPED';
        await inventory.release(data.orderId, {
          allowRestock: true,
          ...(partlyShipped ? { unshipped: data.items } : {}),
        });
      },
      // A deleted account's products (a seller's) come off sale: nobody is left to ship them.
      'user.deleted': async ({ data }) => {
        await catalog.withdrawSeller(data.userId);
      },
      'comment.created': async ({ data }) => {
        const { commentId, productId, rating } = data;
        await ratings.apply({ type: 'created', commentId, productId, rating });
      },
      'comment.updated': async ({ data }) => {
        const { commentId, productId, rating } = data;
        await ratings.apply({ type: 'updated', commentId, productId, rating });
      },
      'comment.deleted': async ({ data }) => {
        await ratings.apply({
          type: 'deleted',
          commentId: data.commentId,
          productId: data.productId,
        });
      },
      'comment.flagged': async ({ data, timestamp }) => {
        // The event's time orders moderation states of one review (they may arrive out of order).
        const { commentId, productId, hidden } = data;
        await ratings.apply({
          type: 'flagged',
          commentId,
          productId,
          hidden,
          at: new Date(timestamp),
        });
      },
    },
  });
}
