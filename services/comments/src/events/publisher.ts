import type { Connection } from 'mongoose';
import type { EventBus } from '@ecom/common/bus';
import type { Logger } from '@ecom/common/logging';
import {
  createMongoOutbox,
  outboxEventPublisher,
  type OutboxEventPublisher,
} from '@ecom/common/mongo';

export const EVENT_SOURCE = 'comments-service';

/**
 * comment.* events go through the MongoDB outbox (`outbox` collection): the row is written
 * right after the change and sent at once; the relay re-sends whatever the bus did not accept
 * until it does (at-least-once; consumers deduplicate by eventId). Without multi-document
 * transactions a crash between the comment write and the outbox insert can still lose that
 * one event (README, "Events").
 */
export async function createCommentEventPublisher(options: {
  connection: Connection;
  bus: EventBus;
  logger: Logger;
  relayIntervalMs: number;
}): Promise<OutboxEventPublisher> {
  const outbox = createMongoOutbox({
    connection: options.connection,
    collection: 'outbox',
    bus: options.bus,
    logger: options.logger,
    intervalMs: options.relayIntervalMs,
    // The direct send gets this long before the relay may pick the row up too.
    directSendGraceMs: Math.max(1000, options.relayIntervalMs),
  });
  await outbox.init();
  return outboxEventPublisher(outbox, EVENT_SOURCE);
}
