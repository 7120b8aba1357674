import {
  outboxEventPublisher,
  type MongoOutbox,
  type OutboxEventPublisher,
} from '@ecom/common/mongo';

export const EVENT_SOURCE = 'auth-service';

/**
 * User events (user.created, user.updated, user.deleted) go through the MongoDB outbox: each
 * use case writes the user change and the outbox row in one transaction
 * (`events.transaction`, i.e. `withMongoTransaction`), the row is sent right after the commit,
 * and the relay re-sends every row the bus did not accept until it does. Delivery is therefore
 * at-least-once; consumers deduplicate by eventId. No event is lost between the write and its
 * row, and none is recorded for a write that did not commit.
 */
export function createUserEventPublisher(outbox: MongoOutbox): OutboxEventPublisher {
  return outboxEventPublisher(outbox, EVENT_SOURCE);
}
