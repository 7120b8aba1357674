import Joi from 'joi';
import { anchoringConfigKeys, type AnchoringConfig } from '@ecom/common/anchoring';
import type { JwtVerifyConfig } from '@ecom/common/auth';
import { baseConfigKeys, busConfigKeys, jwtVerifyConfigKeys } from '@ecom/common/config';

export interface OrderConfig extends JwtVerifyConfig, AnchoringConfig {
  NODE_ENV: string;
  LOG_LEVEL: string;
  HOST: string;
  PORT: number;
  BODY_LIMIT: string;
  SHUTDOWN_TIMEOUT_MS: number;
  DATABASE_URL: string;
  DATABASE_POOL_MAX: number;
  EVENT_BUS: 'memory' | 'redis' | 'rabbitmq';
  REDIS_URL?: string;
  AMQP_URL?: string;
  PRODUCT_SERVICE_URL: string;
  PRODUCT_TIMEOUT_MS: number;
  AUTH_SERVICE_URL: string;
  AUTH_TIMEOUT_MS: number;
  RESERVATION_TTL_MS: number;
  PAYMENT_OVERDUE_MS: number;
  PAYMENT_GIVE_UP_MS: number;
  SWEEP_INTERVAL_MS: number;
  OUTBOX_POLL_INTERVAL_MS: number;
}

export const orderConfigSchema = Joi.object<OrderConfig>({
  ...baseConfigKeys,
  ...jwtVerifyConfigKeys,
  ...busConfigKeys,
  // Blockchain anchoring (off without BLOCKCHAIN_RPC_URL): common/src/anchoring/config.ts.
  ...anchoringConfigKeys,
  PORT: Joi.number().port().default(3005),
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .default('postgres://postgres@127.0.0.1:5432/order_db'),
  DATABASE_POOL_MAX: Joi.number().integer().min(1).max(100).default(10),
  PRODUCT_SERVICE_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://127.0.0.1:3002'),
  PRODUCT_TIMEOUT_MS: Joi.number().integer().min(50).max(60000).default(2000),
  // Profile reads (the shipping address of an order sent without one).
  AUTH_SERVICE_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://127.0.0.1:3001'),
  AUTH_TIMEOUT_MS: Joi.number().integer().min(50).max(60000).default(2000),
  // A PAYMENT_PROCESSING order unchanged this long: ask payment (order.payment.overdue), again
  // every such interval; unchanged PAYMENT_GIVE_UP_MS: fail it (0 never does).
  PAYMENT_OVERDUE_MS: Joi.number()
    .integer()
    .min(10)
    .default(5 * 60 * 1000),
  PAYMENT_GIVE_UP_MS: Joi.number()
    .integer()
    .min(0)
    .default(24 * 60 * 60 * 1000),
  RESERVATION_TTL_MS: Joi.number()
    .integer()
    .min(1)
    .default(15 * 60 * 1000),
  SWEEP_INTERVAL_MS: Joi.number().integer().min(10).default(30000),
  OUTBOX_POLL_INTERVAL_MS: Joi.number().integer().min(5).default(200),
});
