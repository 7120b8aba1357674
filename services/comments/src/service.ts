import { createProductClient } from '@ecom/common/client';
import { defineService, type RunningService } from '@ecom/common/service';
import { clientMetrics, mongoStoreMetrics } from '@ecom/common/metrics';
import { connectServiceMongo, pingMongo } from '@ecom/common/mongo';
import { createComments } from './application/comments';
import { createDeletion } from './application/deletion';
import type { CommentsDeps } from './application/deps';
import { createDirectory } from './application/directory';
import { createHelpfulVotes } from './application/helpful';
import { createModeration } from './application/moderation';
import { createProductCatalog, type ProductCatalog } from './clients/catalog';
import { commentsConfigSchema, type CommentsConfig } from './config';
import { subscribeCommentConsumers } from './events/consumers';
import { createCommentEventPublisher } from './events/publisher';
import { commentsRoutes } from './http/routes';
import { createStores } from './store';

/** What a launcher or a test may replace. */
export interface CommentsServiceOptions {
  /** Replaces the HTTP existence check against the product service. */
  catalog?: ProductCatalog;
  /** Clock of the use cases (comment timestamps). */
  now?: () => Date;
}

/**
 * The comments service: MongoDB (comments_db) through its own connection, the outbox relay,
 * the consumers of product and user events, HTTP.
 */
export const commentsService = defineService({
  name: 'comments',
  configSchema: commentsConfigSchema,
  async build({ config, bus, logger, registry, onClose, jwt }, options: CommentsServiceOptions) {
    const connection = await connectServiceMongo(config.MONGO_URL);
    onClose('mongo', () => connection.close());
    mongoStoreMetrics(registry, connection, 'outbox');
    const stores = createStores(connection);
    await stores.migrate();
    const events = await createCommentEventPublisher({
      connection,
      bus,
      logger,
      relayIntervalMs: config.OUTBOX_RELAY_INTERVAL_MS,
    });
    // Balanced over PRODUCT_SERVICE_URL's replicas; their health checks stop with us.
    const productCatalog = () => {
      const client = clientMetrics(registry).watch(
        'product',
        createProductClient({
          baseUrl: config.PRODUCT_SERVICE_URL,
          timeoutMs: config.PRODUCT_TIMEOUT_MS,
        }),
      );
      onClose('product client', () => client.close());
      return createProductCatalog(config.PRODUCT_SERVICE_URL, { client });
    };
    const deps: CommentsDeps = {
      stores,
      events,
      catalog: options.catalog ?? productCatalog(),
      rules: {
        flags: {
          reviewThreshold: config.FLAG_REVIEW_THRESHOLD,
          hideThreshold: config.FLAG_HIDE_THRESHOLD,
          trustedAccountAgeDays: config.FLAG_TRUSTED_ACCOUNT_AGE_DAYS,
        },
        maxThreadDepth: config.MAX_THREAD_DEPTH,
        maxRepliesPerPage: config.MAX_REPLIES_PER_PAGE,
        maxTextLength: config.COMMENT_MAX_LENGTH,
      },
      now: options.now ?? (() => new Date()),
    };
    const deletion = createDeletion(deps);
    const comments = createComments(deps, deletion);
    const moderation = createModeration(deps, deletion);
    const helpful = createHelpfulVotes(deps);
    const directory = createDirectory({ stores, logger });
    return {
      routers: [
        commentsRoutes({
          comments,
          moderation,
          helpful,
          jwt,
        }),
      ],
      health: { mongo: () => pingMongo(connection) },
      consumers: [
        (observer) => subscribeCommentConsumers({ bus, connection, directory, logger, observer }),
      ],
      // The outbox relay: re-sends what the bus did not take at once.
      workers: [events],
      exports: {
        connection,
        comments,
        moderation,
        helpful,
        directory,
        /** Sends what the outbox still holds (tests and launchers use it to settle). */
        flushOutbox: () => events.flush(),
      },
    };
  },
});

export type RunningCommentsService = RunningService<
  Awaited<ReturnType<typeof commentsService.build>>['exports']
>;
export type { CommentsConfig };
