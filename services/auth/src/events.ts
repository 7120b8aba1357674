import { outboxEventPublisher, type MongoOutbox, type OutboxEventPublisher } from '@ecom/common';
import type { UserEventData } from './domain/user';

export const EVENT_SOURCE = 'auth-service';

export type UserEvent =
  | { type: 'user.created'; data: UserEventData }
  | { type: 'user.updated'; data: UserEventData }
  | { type: 'user.deleted'; data: { userId: string } };

/**
 * User events go through the shared MongoDB outbox (@ecom/common createMongoOutbox): the row
 * is written right after the user change, sent at once, and the relay re-sends every row the
 * bus did not accept until it does. Delivery is therefore at-least-once; consumers
 * deduplicate by eventId. MongoDB has no transaction here, so a crash between the user write
 * and the outbox insert can still lose that one event (README, "Events").
 */
export function createUserEventPublisher(outbox: MongoOutbox): UserEventPublisher {
  return outboxEventPublisher<UserEvent>(outbox, EVENT_SOURCE);
}

export type UserEventPublisher = OutboxEventPublisher<UserEvent>;
