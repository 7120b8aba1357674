import Joi from 'joi';
import { anchoringConfigKeys, type AnchoringConfig } from '@ecom/common/anchoring';
import type { PostgresConfig, ServiceConfig } from '@ecom/common/config';
import { postgresConfigKeys, serviceConfigKeys, serviceUrls } from '@ecom/common/config';

export interface PaymentConfig extends ServiceConfig, PostgresConfig, AnchoringConfig {
  PAYMENT_GATEWAY: 'mock' | 'provider';
  PAYMENT_PROVIDER_URL?: string;
  /** Comma-separated: every secret listed is accepted (rotation). */
  PAYMENT_WEBHOOK_SECRET?: string;
  PAYMENT_WEBHOOK_TOLERANCE_SECONDS: number;
  OUTBOX_POLL_INTERVAL_MS: number;
  ORDER_SERVICE_URL: string[];
  RECONCILE_INTERVAL_MS: number;
  RECONCILE_AFTER_MS: number;
  PAYMENT_ACTION_TIMEOUT_MS: number;
  PAYMENT_CATCH_UP_MS: number;
}

export const paymentConfigSchema = Joi.object<PaymentConfig>({
  ...serviceConfigKeys(3004),
  ...postgresConfigKeys('payment_db'),
  // Blockchain anchoring (off without BLOCKCHAIN_RPC_URL): common/src/anchoring/config.ts.
  ...anchoringConfigKeys,
  /** Asked by GET /api/blockchain/verify/:tx for transactions that are not payment's. */
  ORDER_SERVICE_URL: serviceUrls('http://127.0.0.1:3005'),
  // mock: the deterministic in-process gateway; provider: the asynchronous card processor at
  // PAYMENT_PROVIDER_URL, confirming by signed webhooks (docs/adr/0025-async-payments.md).
  PAYMENT_GATEWAY: Joi.string().valid('mock', 'provider').default('mock'),
  PAYMENT_PROVIDER_URL: Joi.when('PAYMENT_GATEWAY', {
    is: 'provider',
    then: Joi.string()
      .uri({ scheme: ['http', 'https'] })
      .required(),
    otherwise: Joi.string().uri({ scheme: ['http', 'https'] }),
  }),
  PAYMENT_WEBHOOK_SECRET: Joi.when('PAYMENT_GATEWAY', {
    is: 'provider',
    then: Joi.string().min(8).required(),
    otherwise: Joi.string().min(8),
  }),
  PAYMENT_WEBHOOK_TOLERANCE_SECONDS: Joi.number().integer().min(1).max(3600).default(300),
  OUTBOX_POLL_INTERVAL_MS: Joi.number().integer().min(5).default(200),
  RECONCILE_INTERVAL_MS: Joi.number().integer().min(10).default(30000),
  RECONCILE_AFTER_MS: Joi.number().integer().min(0).default(60000),
  // A charge waiting on the customer's action (a provider's 3-D Secure) this long is cancelled
  // at the provider and fails, so its order's stock goes back: order's own payment window
  // (RESERVATION_TTL_MS, 15 min). Checked on each reconciler pass.
  PAYMENT_ACTION_TIMEOUT_MS: Joi.number()
    .integer()
    .min(1000)
    .default(15 * 60 * 1000),
  // How long POST /api/payments/initiate waits for payment to handle the order's creation and
  // reservation, which the order service may show first (docs/adr/0045-initiate-waits-for-the-saga.md).
  PAYMENT_CATCH_UP_MS: Joi.number().integer().min(0).max(10000).default(5000),
});
