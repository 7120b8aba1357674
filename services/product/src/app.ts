import type { Express } from 'express';
import { Counter } from 'prom-client';
import {
  createEvent,
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
import { productRoutes } from './http/routes';
import type { ProductStores } from './store';

export const SERVICE_NAME = 'product-service';

export interface ProductAppDeps {
  config: ProductConfig;
  stores: ProductStores;
  bus: EventBus;
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
  const { config, stores, bus, cache, logger } = deps;
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
    help: 'Events published by type and result',
    labelNames: ['type', 'result'],
    registers,
  });
  const reservations = new Counter({
    name: 'product_reservations_total',
    help: 'order.created outcomes',
    labelNames: ['outcome'],
    registers,
  });

  // Event handlers: a refused publish throws, so the bus redelivers (every step is idempotent).
  const publish: Publish = async (type, data) => {
    try {
      await bus.publish(createEvent(SERVICE_NAME, type, data));
      published.inc({ type, result: 'ok' });
    } catch (err) {
      published.inc({ type, result: 'failed' });
      throw err;
    }
  };
  // HTTP writes: the store write has committed, so a lost event is logged and counted, not a 500.
  const publishAfterWrite: Publish = async (type, data) => {
    try {
      await publish(type, data);
    } catch (err) {
      logger.error('event not published', {
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
