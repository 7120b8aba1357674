import Joi from 'joi';
import { anchoringConfigKeys, type AnchoringConfig } from '@ecom/common/anchoring';
import type { JwtVerifyConfig } from '@ecom/common/auth';
import { baseConfigKeys, busConfigKeys, jwtVerifyConfigKeys } from '@ecom/common/config';

export interface PaymentConfig extends JwtVerifyConfig, AnchoringConfig {
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
  PAYMENT_GATEWAY: 'mock';
  OUTBOX_POLL_INTERVAL_MS: number;
  ORDER_SERVICE_URL: string;
  RECONCILE_INTERVAL_MS: number;
  RECONCILE_AFTER_MS: number;
}

export const paymentConfigSchema = Joi.object<PaymentConfig>({
  ...baseConfigKeys,
  ...jwtVerifyConfigKeys,
  ...busConfigKeys,
  // Blockchain anchoring (off without BLOCKCHAIN_RPC_URL): common/src/anchoring/config.ts.
  ...anchoringConfigKeys,
  /** Asked by GET /api/blockchain/verify/:tx for transactions that are not payment's. */
  ORDER_SERVICE_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://127.0.0.1:3005'),
  PORT: Joi.number().port().default(3004),
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .default('postgres://postgres@127.0.0.1:5432/payment_db'),
  DATABASE_POOL_MAX: Joi.number().integer().min(1).max(100).default(10),
  PAYMENT_GATEWAY: Joi.string().valid('mock').default('mock'),
  OUTBOX_POLL_INTERVAL_MS: Joi.number().integer().min(5).default(200),
  RECONCILE_INTERVAL_MS: Joi.number().integer().min(10).default(30000),
  RECONCILE_AFTER_MS: Joi.number().integer().min(0).default(60000),
});
