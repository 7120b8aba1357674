import { connectServiceMongo, createMongoOutbox, outboxEventPublisher } from '@ecom/common/mongo';
import { periodicTask } from '@ecom/common/lifecycle';
import { mongoStoreMetrics } from '@ecom/common/metrics';
import { defineService, type RunningService } from '@ecom/common/service';
import { CatalogService } from './application/catalog';
import { CategoryService } from './application/categories';
import { ImageService } from './application/images';
import { InventoryService } from './application/inventory';
import { RatingService } from './application/ratings';
import { productConfigSchema } from './config';
import { subscribeProductConsumers } from './events/consumers';
import { EVENT_SOURCE, productPublishers } from './events/publisher';
import { productRoutes } from './http/routes';
import { openImageStorage } from './media/image-storage';
import { sharpImageProcessor } from './media/sharp-processor';
import { createStores } from './store';
import { CatalogCache, openCache } from './store/cache';

/** What a launcher or a test may replace. */
export interface ProductServiceOptions {
  /** false: an HTTP-only instance that consumes no events (a second replica in a test). */
  consume?: boolean;
}

/**
 * The product service: MongoDB (product_db) with its indexes, the read cache (Redis or
 * memory), the outbox relay, the saga and review consumers, HTTP.
 */
export const productService = defineService({
  name: 'product',
  configSchema: productConfigSchema,
  async build({ config, bus, logger, registry, onClose, jwt }, options: ProductServiceOptions) {
    const connection = await connectServiceMongo(config.MONGO_URL, {
      serverSelectionTimeoutMS: config.MONGO_SERVER_SELECTION_TIMEOUT_MS,
      autoIndex: true,
    });
    onClose('mongodb', () => connection.close());
    mongoStoreMetrics(registry, connection, 'outbox');
    const stores = await createStores(connection, config.SEARCH_MODE);
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
    const events = outboxEventPublisher(outbox, EVENT_SOURCE);
    const publishers = productPublishers({ events, registry, logger });

    const cache = await openCache(config);
    if (cache) onClose('cache', () => cache.close());
    const catalogCache = new CatalogCache(cache, {
      prefix: config.CACHE_KEY_PREFIX,
      ttlSeconds: config.CACHE_TTL_SECONDS,
      registry,
      logger,
    });

    const imageStorage = await openImageStorage(config);
    if (imageStorage.close) onClose('image-storage', async () => imageStorage.close?.());
    const images = new ImageService({
      products: stores.catalog,
      storage: imageStorage,
      process: sharpImageProcessor({
        maxBytes: config.IMAGE_MAX_BYTES,
        maxPixels: config.IMAGE_MAX_PIXELS,
      }),
      cache: catalogCache,
      maxPerProduct: config.IMAGES_PER_PRODUCT,
      logger,
    });

    const catalog = new CatalogService({
      products: stores.catalog,
      categories: stores.categories,
      cache: catalogCache,
      publish: publishers.afterWrite,
      transaction: (fn) => events.transaction(() => fn()),
      defaults: {
        currency: config.DEFAULT_CURRENCY,
        lowStockThreshold: config.DEFAULT_LOW_STOCK_THRESHOLD,
      },
      afterDelete: (id) => images.removeAll(id),
    });
    const categories = new CategoryService(stores.categories);
    const inventory = new InventoryService({
      stock: stores.stock,
      reservations: stores.reservations,
      publish: publishers.fromHandler,
      stockChanged: async (ids) => {
        await catalogCache.productsChanged([...new Set(ids)]);
      },
      logger,
    });
    const ratings = new RatingService(stores.ratings, catalogCache);
    // Reservations left held (a lost order event): ask order, on a timer and once at start.
    const reconciler = periodicTask({
      name: 'reservation-reconciler',
      intervalMs: config.RESERVATION_CHECK_INTERVAL_MS,
      run: () => inventory.askAboutOverdue(config.RESERVATION_CHECK_AFTER_MS),
      logger,
    });
    const reconcilerWorker = {
      start() {
        reconciler.start();
        void reconciler.runOnce();
      },
      stop: () => reconciler.stop(),
    };

    return {
      routers: [
        productRoutes({ catalog, categories, images, imageMaxBytes: config.IMAGE_MAX_BYTES, jwt }),
      ],
      health: { mongodb: () => stores.ping() },
      // Without its cache, product reads from MongoDB.
      ...(cache?.kind === 'redis' ? { degradedBy: { cache: () => cache.ping() } } : {}),
      consumers:
        options.consume === false
          ? []
          : [
              (observer) =>
                subscribeProductConsumers({
                  bus,
                  connection,
                  inventory,
                  ratings,
                  catalog,
                  logger,
                  observer,
                }),
            ],
      // The outbox relay: re-sends every event the bus did not take; the reservation
      // reconciler (only where the saga is consumed).
      workers: options.consume === false ? [events] : [events, reconcilerWorker],
      exports: {
        /** The service's own MongoDB connection (tests inspect stock through it). */
        connection,
        /** The outbox (collection `outbox`) every published event goes through. */
        outbox,
        /** Sends every due event the outbox still holds now; returns how many. */
        flushOutbox: () => events.flush(),
        catalog,
        categories,
        inventory,
        ratings,
        images,
        /** Where image objects are kept (S3 or disk). */
        imageStorage,
        /** The reservation reconciler (runOnce() in tests). */
        reconciler,
      },
    };
  },
});

export type RunningProductService = RunningService<
  Awaited<ReturnType<typeof productService.build>>['exports']
>;
