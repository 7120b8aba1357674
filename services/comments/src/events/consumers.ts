import type { Connection } from 'mongoose';
import type { ConsumerDeps, ConsumerHandle } from '@ecom/common/bus';
import { subscribeMongoConsumers } from '@ecom/common/mongo';
import type { Directory } from '../application/directory';

export const CONSUMER_GROUP = 'comments';

/**
 * What comments consumes: product.deleted removes a product's comments, user.deleted
 * anonymises a user's, user.created / user.updated give the name shown on them. Payloads are
 * checked against common's contracts; each event runs once per eventId.
 */
export function subscribeCommentConsumers(
  deps: ConsumerDeps & { connection: Connection; directory: Directory },
): Promise<ConsumerHandle> {
  const { directory } = deps;
  return subscribeMongoConsumers({
    ...deps,
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
