import {
  outboxEventPublisher,
  type MongoOutbox,
  type OutboxEventPublisher,
} from '@ecom/common/mongo';

export const EVENT_SOURCE = 'auth-service';

/**
 * User events (user.created, user.updated, user.deleted) go through the MongoDB outbox: the
 * row is written right after the user change, sent at once, and the relay re-sends every row
 * the bus did not accept until it does. Delivery is therefore at-least-once; consumers
 * deduplicate by eventId. MongoDB has no transaction here, so a crash between the user write
 * and the outbox insert can still lose that one event (README, "Events").
 */
export function createUserEventPublisher(outbox: MongoOutbox): OutboxEventPublisher {
  return outboxEventPublisher(outbox, EVENT_SOURCE);
}
