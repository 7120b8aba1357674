import Joi from 'joi';
import { anchoringConfigKeys, type AnchoringConfig } from '@ecom/common/anchoring';
import type { PostgresConfig, ServiceConfig } from '@ecom/common/config';
import { postgresConfigKeys, serviceConfigKeys, serviceUrls } from '@ecom/common/config';

export interface OrderConfig extends ServiceConfig, PostgresConfig, AnchoringConfig {
  PRODUCT_SERVICE_URL: string[];
  PRODUCT_TIMEOUT_MS: number;
  QUOTE_CACHE_TTL_MS: number;
  AUTH_SERVICE_URL: string[];
  AUTH_TIMEOUT_MS: number;
  RESERVATION_TTL_MS: number;
  PAYMENT_OVERDUE_MS: number;
  PAYMENT_GIVE_UP_MS: number;
  PENDING_RESEND_AFTER_MS: number;
  PENDING_MAX_RESENDS: number;
  SWEEP_INTERVAL_MS: number;
  OUTBOX_POLL_INTERVAL_MS: number;
  CART_GUEST_IDLE_MS: number;
  CART_GUEST_EMPTY_IDLE_MS: number;
  UNPAID_HOLD_MAX_ORDERS: number;
  UNPAID_HOLD_MAX_UNITS: number;
}

export const orderConfigSchema = Joi.object<OrderConfig>({
  ...serviceConfigKeys(3005),
  ...postgresConfigKeys('order_db'),
  // Blockchain anchoring (off without BLOCKCHAIN_RPC_URL): common/src/anchoring/config.ts.
  ...anchoringConfigKeys,
  PRODUCT_SERVICE_URL: serviceUrls('http://127.0.0.1:3002'),
  PRODUCT_TIMEOUT_MS: Joi.number().integer().min(50).max(60000).default(2000),
  // How long an order reuses product's quote of a product (0: asks product for every order).
  // Product checks each line's price again when it reserves (PRICE_CHANGED), and a quote is
  // dropped on product.updated / product.deleted and on that refusal.
  QUOTE_CACHE_TTL_MS: Joi.number()
    .integer()
    .min(0)
    .max(60 * 60 * 1000)
    .default(10_000),
  // Profile reads (the shipping address of an order sent without one).
  AUTH_SERVICE_URL: serviceUrls('http://127.0.0.1:3001'),
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
  // A PENDING order (order.created never answered) unchanged this long: re-send order.created
  // (consumers are idempotent), again every such interval, at most PENDING_MAX_RESENDS times;
  // one more interval without an answer fails it (PENDING_TIMEOUT), releasing what was held.
  PENDING_RESEND_AFTER_MS: Joi.number()
    .integer()
    .min(10)
    .default(2 * 60 * 1000),
  PENDING_MAX_RESENDS: Joi.number().integer().min(0).max(100).default(3),
  SWEEP_INTERVAL_MS: Joi.number().integer().min(10).default(30000),
  OUTBOX_POLL_INTERVAL_MS: Joi.number().integer().min(5).default(200),
  // A guest cart untouched this long is forgotten by the sweeper (customers' carts stay).
  CART_GUEST_IDLE_MS: Joi.number()
    .integer()
    .min(1000)
    .default(30 * 24 * 60 * 60 * 1000),
  // What one account may hold in orders placed without payment details (stock held unpaid
  // until the reservation runs out, RESERVATION_TTL_MS): its open orders, and units across them.
  UNPAID_HOLD_MAX_ORDERS: Joi.number().integer().min(1).max(1000).default(3),
  UNPAID_HOLD_MAX_UNITS: Joi.number().integer().min(1).max(1_000_000).default(100),
  // An empty guest cart is forgotten sooner (never later than CART_GUEST_IDLE_MS): anyone may
  // make one, so they must not pile up.
  CART_GUEST_EMPTY_IDLE_MS: Joi.number()
    .integer()
    .min(1000)
    .default(60 * 60 * 1000),
});
