import os from 'node:os';
import path from 'node:path';
import Joi from 'joi';
import type { MongoConfig, ServiceConfig } from '@ecom/common/config';
import { loadConfig, mongoConfigKeys, serviceConfigKeys } from '@ecom/common/config';
import { CURRENCIES, type Currency } from './domain/catalog-rules';
import { MAX_IMAGE_UPLOAD_BYTES } from './domain/image-rules';

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
  /** Set: images go to this S3-compatible endpoint; unset: to IMAGE_DIR on the local disk. */
  S3_ENDPOINT?: string;
  S3_BUCKET: string;
  S3_REGION: string;
  S3_ACCESS_KEY_ID?: string;
  S3_SECRET_ACCESS_KEY?: string;
  S3_FORCE_PATH_STYLE: boolean;
  /** Create the bucket at start when missing (compose, dev); production provisions it. */
  S3_CREATE_BUCKET: boolean;
  IMAGE_DIR: string;
  IMAGE_MAX_BYTES: number;
  /** Width × height an upload may have: decompression bombs are refused before decoding. */
  IMAGE_MAX_PIXELS: number;
  IMAGES_PER_PRODUCT: number;
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
  S3_ENDPOINT: Joi.string().uri({ scheme: ['http', 'https'] }),
  S3_BUCKET: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)
    .default('product-images'),
  S3_REGION: Joi.string().max(64).default('us-east-1'),
  S3_ACCESS_KEY_ID: Joi.string().max(256),
  S3_SECRET_ACCESS_KEY: Joi.string().max(256),
  S3_FORCE_PATH_STYLE: Joi.boolean().default(true),
  S3_CREATE_BUCKET: Joi.boolean().default(false),
  IMAGE_DIR: Joi.string().default(path.join(os.tmpdir(), 'ecom-product-images')),
  IMAGE_MAX_BYTES: Joi.number()
    .integer()
    .min(1024)
    .max(MAX_IMAGE_UPLOAD_BYTES)
    .default(10 * 1024 * 1024),
  IMAGE_MAX_PIXELS: Joi.number().integer().min(10_000).max(268_402_689).default(40_000_000),
  IMAGES_PER_PRODUCT: Joi.number().integer().min(1).max(50).default(8),
})
  .and('S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY')
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
