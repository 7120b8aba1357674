import type { Connection } from 'mongoose';
import type { ConsumerHandle, ConsumerObserver, EventBus } from '@ecom/common/bus';
import type { Logger } from '@ecom/common/logging';
import { subscribeMongoConsumers } from '@ecom/common/mongo';
import type { Directory } from '../application/directory';

export const CONSUMER_GROUP = 'comments';

/**
 * What comments consumes: product.deleted removes a product's comments, user.deleted
 * anonymises a user's, user.created / user.updated give the name shown on them. Payloads are
 * checked against common's contracts; each event runs once per eventId.
 */
export function subscribeCommentConsumers(deps: {
  bus: EventBus;
  connection: Connection;
  directory: Directory;
  logger: Logger;
  observer?: ConsumerObserver;
}): Promise<ConsumerHandle> {
  const { directory } = deps;
  return subscribeMongoConsumers({
    bus: deps.bus,
    connection: deps.connection,
    logger: deps.logger,
    observer: deps.observer,
    group: CONSUMER_GROUP,
    handlers: {
      'product.deleted': (event) => directory.productDeleted(event.data.productId),
      'user.deleted': (event) => directory.userDeleted(event.data.userId),
      'user.created': (event) =>
        directory.userNamed(event.data.userId, event.data.name, new Date(event.timestamp)),
      'user.updated': (event) =>
        directory.userNamed(event.data.userId, event.data.name, new Date(event.timestamp)),
    },
  });
}
