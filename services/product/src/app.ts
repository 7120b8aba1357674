import type { Express } from 'express';
import { Counter } from 'prom-client';
import {
  createServiceApp,
  jwtVerifyOptionsFromConfig,
  type EventBus,
  type Logger,
  type Metrics,
} from '@ecom/common';
import type { Cache } from './cache/cache';
import { CatalogCache } from './cache/catalog-cache';
import type { ProductConfig } from './config';
import { CatalogService } from './domain/catalog';
import { InventoryService } from './domain/inventory';
import type { Publish } from './domain/ports';
import { RatingService } from './domain/ratings';
import type { ProductEvent, ProductEventPublisher } from './events/publisher';
import { productRoutes } from './http/routes';
import type { ProductStores } from './store';

export const SERVICE_NAME = 'product-service';

export interface ProductAppDeps {
  config: ProductConfig;
  stores: ProductStores;
  /** Only its health is read here: events go through `events`. */
  bus: EventBus;
  /** The outbox-backed publisher every event of this service goes through. */
  events: ProductEventPublisher;
  /** Undefined disables caching (every read a MISS). */
  cache: Cache | undefined;
  logger: Logger;
}

export interface ProductApp {
  app: Express;
  metrics: Metrics;
  catalog: CatalogService;
  inventory: InventoryService;
  ratings: RatingService;
}

/** The Express app and the use cases behind it, from injected stores, bus and cache. */
export function createProductApp(deps: ProductAppDeps): ProductApp {
  const { config, stores, bus, events, cache, logger } = deps;
  const service = createServiceApp({
    service: SERVICE_NAME,
    logger,
    bodyLimit: config.BODY_LIMIT,
    checks: {
      mongo: () => stores.ping(),
      bus: () => bus.health(),
      ...(cache?.kind === 'redis' ? { cache: () => cache.ping() } : {}),
    },
  });
  const registers = [service.metrics.registry];
  const published = new Counter({
    name: 'product_events_published_total',
    help: 'Events recorded in the outbox (ok) or lost because the outbox write failed (failed)',
    labelNames: ['type', 'result'],
    registers,
  });
  const reservations = new Counter({
    name: 'product_reservations_total',
    help: 'order.created outcomes',
    labelNames: ['outcome'],
    registers,
  });

  // Every event is recorded in the outbox, then sent at once; if the bus refuses, the relay
  // re-sends it. Only a failed outbox write throws: an event handler then fails, so the bus
  // redelivers (every step is idempotent).
  const publish: Publish = async (type, data) => {
    try {
      await events.publish({ type, data } as ProductEvent);
      published.inc({ type, result: 'ok' });
    } catch (err) {
      published.inc({ type, result: 'failed' });
      throw err;
    }
  };
  // HTTP writes: the store write has committed, so an event the outbox could not record is
  // logged and counted, not a 500.
  const publishAfterWrite: Publish = async (type, data) => {
    try {
      await publish(type, data);
    } catch (err) {
      logger.error('event not recorded in the outbox', {
        type,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
  const counted: Publish = async (type, data) => {
    if (type === 'inventory.reserved') reservations.inc({ outcome: 'reserved' });
    if (type === 'inventory.rejected') reservations.inc({ outcome: 'rejected' });
    if (type === 'product.inventory.low') logger.warn('product stock is low', data);
    await publish(type, data);
  };

  const catalogCache = new CatalogCache(cache, {
    prefix: config.CACHE_KEY_PREFIX,
    ttlSeconds: config.CACHE_TTL_SECONDS,
    registry: service.metrics.registry,
    logger,
  });
  const catalog = new CatalogService({
    products: stores.catalog,
    categories: stores.categories,
    cache: catalogCache,
    publish: async (type, data) => {
      if (type === 'product.inventory.low') logger.warn('product stock is low', data);
      await publishAfterWrite(type, data);
    },
    defaults: {
      currency: config.DEFAULT_CURRENCY,
      lowStockThreshold: config.DEFAULT_LOW_STOCK_THRESHOLD,
    },
  });
  const inventory = new InventoryService({
    stock: stores.stock,
    reservations: stores.reservations,
    publish: counted,
    stockChanged: async (ids) => {
      for (const id of new Set(ids)) await catalogCache.productChanged(id);
    },
    logger,
  });
  const ratings = new RatingService(stores.ratings, catalogCache);

  service.app.use('/api/products', productRoutes(catalog, jwtVerifyOptionsFromConfig(config)));
  return { app: service.finish(), metrics: service.metrics, catalog, inventory, ratings };
}
