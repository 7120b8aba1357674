import { outboxEventPublisher, type MongoOutbox, type OutboxEventPublisher } from '@ecom/common';

/** `source` of every envelope this service publishes. */
export const EVENT_SOURCE = 'product-service';

interface Money {
  amount: number;
  currency: string;
}

/** Payloads as in notes/event-contracts.md (the README lists them too). */
export type ProductEvent =
  | {
      type: 'product.created';
      data: {
        productId: string;
        sellerId: string;
        name: string;
        price: Money;
        category: string | null;
        inventory: number;
      };
    }
  | { type: 'product.updated'; data: { productId: string; changes: string[]; price: Money } }
  | { type: 'product.deleted'; data: { productId: string } }
  | {
      type: 'product.inventory.low';
      data: { productId: string; available: number; threshold: number };
    }
  | {
      type: 'inventory.reserved';
      data: { orderId: string; items: Array<{ productId: string; quantity: number }> };
    }
  | {
      type: 'inventory.rejected';
      data: {
        orderId: string;
        productId: string;
        reason: string;
        requested: number;
        available: number;
      };
    };

export type ProductEventPublisher = OutboxEventPublisher<ProductEvent>;

/**
 * Every event product publishes goes through the shared MongoDB outbox (@ecom/common
 * createMongoOutbox): the row is written right after the state change, sent at once, and the
 * relay re-sends whatever the bus did not accept until it does (at-least-once; consumers
 * deduplicate by eventId). Without a multi-document transaction a crash between the product
 * write and the outbox insert can still lose that one event (README, "Events").
 */
export function createProductEventPublisher(outbox: MongoOutbox): ProductEventPublisher {
  return outboxEventPublisher<ProductEvent>(outbox, EVENT_SOURCE);
}
