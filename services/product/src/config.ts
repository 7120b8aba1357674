import Joi from 'joi';
import type { MongoConfig, ServiceConfig } from '@ecom/common/config';
import { loadConfig, mongoConfigKeys, serviceConfigKeys } from '@ecom/common/config';
import { CURRENCIES, type Currency } from './domain/catalog-rules';

export interface ProductConfig extends ServiceConfig, MongoConfig {
  MONGO_SERVER_SELECTION_TIMEOUT_MS: number;
  /** `redis` when REDIS_URL is set, else `memory`; `off` disables caching. */
  CACHE_DRIVER: 'redis' | 'memory' | 'off';
  CACHE_TTL_SECONDS: number;
  CACHE_KEY_PREFIX: string;
  CACHE_MEMORY_MAX_ENTRIES: number;
  DEFAULT_CURRENCY: Currency;
  DEFAULT_LOW_STOCK_THRESHOLD: number;
  SEARCH_MODE: 'text' | 'regex';
  /** How often the outbox relay re-sends events the bus did not accept. */
  OUTBOX_RELAY_INTERVAL_MS: number;
  /** A reservation still held this long makes product ask order (inventory.reservation.overdue). */
  RESERVATION_CHECK_AFTER_MS: number;
  /** How often the reservation reconciler looks (it also runs once at start). */
  RESERVATION_CHECK_INTERVAL_MS: number;
}

export const productConfigSchema = Joi.object<ProductConfig>({
  ...serviceConfigKeys(3002),
  ...mongoConfigKeys('product_db'),
  MONGO_SERVER_SELECTION_TIMEOUT_MS: Joi.number().integer().min(100).max(120_000).default(5000),
  CACHE_DRIVER: Joi.string().valid('redis', 'memory', 'off'),
  CACHE_TTL_SECONDS: Joi.number().integer().min(1).max(86400).default(60),
  CACHE_KEY_PREFIX: Joi.string()
    .pattern(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('product:'),
  CACHE_MEMORY_MAX_ENTRIES: Joi.number().integer().min(10).max(1_000_000).default(5000),
  DEFAULT_CURRENCY: Joi.string()
    .valid(...CURRENCIES)
    .default('USD'),
  DEFAULT_LOW_STOCK_THRESHOLD: Joi.number().integer().min(0).max(1_000_000).default(5),
  SEARCH_MODE: Joi.string().valid('text', 'regex').default('text'),
  OUTBOX_RELAY_INTERVAL_MS: Joi.number().integer().min(10).max(600_000).default(1000),
  // Longer than order's own payment window (RESERVATION_TTL_MS, 15 min): an order waiting for
  // payment is expired by order itself first. Asked again every such interval until it moves.
  RESERVATION_CHECK_AFTER_MS: Joi.number()
    .integer()
    .min(10)
    .default(20 * 60 * 1000),
  RESERVATION_CHECK_INTERVAL_MS: Joi.number().integer().min(10).max(3_600_000).default(60_000),
})
  // The cache follows REDIS_URL unless chosen explicitly.
  .custom((value: ProductConfig, helpers) => {
    const driver = value.CACHE_DRIVER ?? (value.REDIS_URL ? 'redis' : 'memory');
    if (driver === 'redis' && !value.REDIS_URL) {
      return helpers.message({ custom: 'CACHE_DRIVER=redis requires REDIS_URL' });
    }
    return { ...value, CACHE_DRIVER: driver };
  });

/** Validated product-service configuration from an environment-like object. */
export function loadProductConfig(env: NodeJS.ProcessEnv = process.env): ProductConfig {
  return loadConfig(productConfigSchema, env);
}
