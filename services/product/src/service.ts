import type { Server } from 'node:http';
import type { Express } from 'express';
import {
  closeHttpServer,
  createLogger,
  createMongoOutbox,
  listenHttp,
  type EventBus,
  type EventEnvelope,
  type Listening,
  type Logger,
  type MongoOutbox,
} from '@ecom/common';
import type { Connection } from 'mongoose';
import { createProductApp, SERVICE_NAME } from './app';
import { MemoryCache, type Cache } from './cache/cache';
import { RedisCache } from './cache/redis-cache';
import type { ProductConfig } from './config';
import { createEventHandler, subscribeConsumers } from './events/consumers';
import { createProductEventPublisher, type ProductEventPublisher } from './events/publisher';
import { connectMongo, createStores } from './store';

export interface StartProductServiceOptions {
  config: ProductConfig;
  /** Shared with the other services in an embedded run or a saga test; not closed by stop(). */
  bus: EventBus;
  logger?: Logger;
}

export interface RunningProductService {
  app: Express;
  server: Server;
  /** `http://127.0.0.1:<port>` (the real port when PORT=0). */
  url: string;
  /** The service's own MongoDB connection (tests inspect stock through it). */
  connection: Connection;
  /** The MongoDB outbox (collection `outbox`) every published event goes through. */
  outbox: MongoOutbox;
  /** Sends every due event the outbox still holds now; returns how many (tests, launchers). */
  flushOutbox(): Promise<number>;
  /**
   * Stops consuming, closes the HTTP server, waits for handlers in flight, stops the outbox
   * relay, closes cache and MongoDB.
   */
  stop(): Promise<void>;
}

async function createCache(config: ProductConfig): Promise<Cache | undefined> {
  if (config.CACHE_DRIVER === 'off') return undefined;
  if (config.CACHE_DRIVER === 'redis' && config.REDIS_URL)
    return RedisCache.connect(config.REDIS_URL);
  return new MemoryCache(config.CACHE_MEMORY_MAX_ENTRIES);
}

/**
 * Starts the product service in this process: MongoDB connection, cache, HTTP server and
 * the `product` consumer group on the given bus. Used by main.ts, the embedded launcher and
 * saga tests (PORT=0 picks a free port).
 */
export async function startProductService(
  options: StartProductServiceOptions,
): Promise<RunningProductService> {
  const { config, bus } = options;
  const logger = options.logger ?? createLogger(SERVICE_NAME, config.LOG_LEVEL);
  const connection = await connectMongo(config.MONGO_URL, config.MONGO_SERVER_SELECTION_TIMEOUT_MS);
  let cache: Cache | undefined;
  let listening: Listening | undefined;
  let stopping = false;
  const inFlight = new Set<Promise<void>>();
  let app: Express;
  let outbox: MongoOutbox;
  let events: ProductEventPublisher;
  try {
    const stores = await createStores(connection, config.SEARCH_MODE);
    outbox = createMongoOutbox({
      connection,
      collection: 'outbox',
      bus,
      logger,
      intervalMs: config.OUTBOX_RELAY_INTERVAL_MS,
      // The direct send gets this long before the relay may pick the row up too.
      directSendGraceMs: Math.max(1000, config.OUTBOX_RELAY_INTERVAL_MS),
    });
    await outbox.init();
    events = createProductEventPublisher(outbox);
    cache = await createCache(config);
    const built = createProductApp({ config, stores, bus, events, cache, logger });
    app = built.app;
    // Listen first: if the port is taken, nothing has subscribed to the shared bus yet.
    listening = await listenHttp(app, config.PORT, config.HOST);
    const handle = createEventHandler({
      connection,
      inventory: built.inventory,
      ratings: built.ratings,
      logger,
    });
    await subscribeConsumers(bus, (event: EventEnvelope) => {
      // After stop() the bus may still deliver (it is shared): refuse, so it is redelivered elsewhere.
      if (stopping) return Promise.reject(new Error('product service is stopping'));
      const run = handle(event);
      inFlight.add(run);
      void run.finally(() => inFlight.delete(run)).catch(() => undefined);
      return run;
    });
    // Last: nothing below can fail, so a failed start leaves no relay timer behind.
    events.start();
  } catch (err) {
    stopping = true;
    if (listening) await closeHttpServer(listening.server, 0);
    await cache?.close().catch(() => undefined);
    await connection.close().catch(() => undefined);
    throw err;
  }
  const { server, url } = listening;
  logger.info('product service listening', { url });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      stopping = true;
      await closeHttpServer(server, config.SHUTDOWN_TIMEOUT_MS);
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      // Handlers and requests are done, so nothing records events any more.
      await events.stop();
      await cache
        ?.close()
        .catch((err) => logger.warn('cache close failed', { error: String(err) }));
      await connection.close();
      logger.info('product service stopped');
    })());

  return {
    app,
    server,
    url,
    connection,
    outbox,
    flushOutbox: () => events.flush(),
    stop,
  };
}
