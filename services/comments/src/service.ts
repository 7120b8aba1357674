import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Connection } from 'mongoose';
import {
  closeHttpServer,
  createLogger,
  createMongoOutbox,
  jwtVerifyOptionsFromConfig,
  listenHttp,
  type EventBus,
  type Listening,
  type Logger,
} from '@ecom/common';
import { createCommentsApp } from './app';
import type { CommentsConfig } from './config';
import { createCommentEventPublisher, subscribeCommentConsumers } from './events';
import { createHttpProductCatalog, type ProductCatalog } from './products';
import { connectCommentsDb, createStores, pingCommentsDb } from './store';

export interface StartCommentsServiceOptions {
  config: CommentsConfig;
  bus: EventBus;
  logger?: Logger;
  /** Replaces the HTTP check against the product service (e.g. a launcher with its own). */
  catalog?: ProductCatalog;
}

export interface RunningCommentsService {
  app: Express;
  server: Server;
  url: string;
  connection: Connection;
  /** Sends what the outbox still holds (tests and launchers use it to settle). */
  flushOutbox(): Promise<number>;
  /**
   * Stops accepting requests and waits for those in flight, refuses further event deliveries
   * and waits for handlers in flight, stops the outbox relay, closes MongoDB. The bus belongs
   * to the caller and stays open.
   */
  stop(): Promise<void>;
}

/**
 * Starts the comments service on `config.PORT` (0 picks a free port): connects its own
 * MongoDB connection, builds the indexes, subscribes the consumers, starts the outbox relay
 * and listens. Several services can run like this in one process sharing one bus.
 */
export async function startCommentsService(
  options: StartCommentsServiceOptions,
): Promise<RunningCommentsService> {
  const { config, bus } = options;
  const logger = options.logger ?? createLogger('comments-service', config.LOG_LEVEL);
  const connection = await connectCommentsDb(config.MONGO_URL);
  try {
    const stores = createStores(connection);
    await stores.init();
    const outbox = createMongoOutbox({
      connection,
      collection: 'outbox',
      bus,
      logger,
      intervalMs: config.OUTBOX_RELAY_INTERVAL_MS,
      // The direct send gets this long before the relay may pick the row up too.
      directSendGraceMs: Math.max(1000, config.OUTBOX_RELAY_INTERVAL_MS),
    });
    await outbox.init();
    const events = createCommentEventPublisher(outbox);
    const catalog =
      options.catalog ??
      createHttpProductCatalog({
        baseUrl: config.PRODUCT_SERVICE_URL,
        timeoutMs: config.PRODUCT_TIMEOUT_MS,
      });
    const app = createCommentsApp({
      stores,
      catalog,
      events,
      logger,
      jwt: jwtVerifyOptionsFromConfig(config),
      rules: {
        flagHideThreshold: config.FLAG_HIDE_THRESHOLD,
        maxThreadDepth: config.MAX_THREAD_DEPTH,
        maxRepliesPerPage: config.MAX_REPLIES_PER_PAGE,
      },
      maxTextLength: config.COMMENT_MAX_LENGTH,
      bodyLimit: config.BODY_LIMIT,
      checks: { mongo: () => pingCommentsDb(connection), bus: () => bus.health() },
    });
    const consumers = await subscribeCommentConsumers({ bus, connection, stores, logger });
    let listening: Listening;
    try {
      listening = await listenHttp(app, config.PORT, config.HOST);
    } catch (err) {
      await consumers.stop();
      throw err;
    }
    const { server, url } = listening;
    events.start();
    logger.info('comments service listening', { url });

    let stopping: Promise<void> | undefined;
    return {
      app,
      server,
      url,
      connection,
      flushOutbox: () => events.flush(),
      stop() {
        stopping ??= (async () => {
          if (server.listening) await closeHttpServer(server);
          // Requests are done; then event handlers, then the relay, then the store.
          await consumers.stop();
          await events.stop();
          await connection.close();
          logger.info('comments service stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}
