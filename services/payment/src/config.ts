import Joi from 'joi';
import {
  baseConfigKeys,
  busConfigKeys,
  jwtVerifyConfigKeys,
  type JwtVerifyConfig,
} from '@ecom/common';

export interface PaymentConfig extends JwtVerifyConfig {
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
  RECONCILE_INTERVAL_MS: number;
  RECONCILE_AFTER_MS: number;
}

export const paymentConfigSchema = Joi.object<PaymentConfig>({
  ...baseConfigKeys,
  ...jwtVerifyConfigKeys,
  ...busConfigKeys,
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
