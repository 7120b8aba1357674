import Joi from 'joi';
import type { JwtVerifyConfig } from '@ecom/common/auth';
import {
  baseConfigKeys,
  busConfigKeys,
  jwtVerifyConfigKeys,
  loadConfig,
} from '@ecom/common/config';
import { CURRENCIES, type Currency } from './domain/catalog-rules';

export interface ProductConfig extends JwtVerifyConfig {
  NODE_ENV: 'development' | 'test' | 'production';
  LOG_LEVEL: string;
  HOST: string;
  PORT: number;
  BODY_LIMIT: string;
  SHUTDOWN_TIMEOUT_MS: number;
  MONGO_URL: string;
  MONGO_SERVER_SELECTION_TIMEOUT_MS: number;
  EVENT_BUS: 'memory' | 'redis' | 'rabbitmq';
  REDIS_URL?: string;
  AMQP_URL?: string;
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
}

export const productConfigSchema = Joi.object<ProductConfig>({
  ...baseConfigKeys,
  ...jwtVerifyConfigKeys,
  ...busConfigKeys,
  PORT: Joi.number().integer().min(0).max(65535).default(3002),
  MONGO_URL: Joi.string()
    .uri({ scheme: ['mongodb', 'mongodb+srv'] })
    .default('mongodb://127.0.0.1:27017/product_db'),
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
