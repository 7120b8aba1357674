import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Pool } from 'pg';
import {
  OutboxRelay,
  anchoringFromConfig,
  closeHttpServer,
  createLogger,
  createServiceClient,
  createPgPool,
  jwtVerifyOptionsFromConfig,
  listenHttp,
  periodicTask,
  runMigrations,
  stopOnce,
  type Anchoring,
  type EventBus,
  type Logger,
} from '@ecom/common';
import { noopAnchor, type AnchorSink } from '@ecom/common';
import { createPaymentApp } from './app';
import type { PaymentConfig } from './config';
import { subscribePaymentConsumers } from './events/consumers';
import type { PaymentGateway } from './gateway/gateway';
import { MockPaymentGateway } from './gateway/mock-gateway';
import { paymentMigrations } from './migrations';
import { Payments } from './payments';
import { paymentStore } from './store/payment-store';

export interface StartPaymentServiceOptions {
  config: PaymentConfig;
  bus: EventBus;
  logger?: Logger;
  /** The gateway adapter; the deterministic MockPaymentGateway by default. */
  gateway?: PaymentGateway;
  /**
   * Replaces the anchoring built from the configuration (BLOCKCHAIN_RPC_URL...): called inside
   * the transaction of payment completed / refunded. No-op when anchoring is off.
   */
  anchor?: AnchorSink;
  /** Subscribe to the bus (default true); false starts an HTTP-only instance. */
  consume?: boolean;
}

export interface RunningPaymentService {
  app: Express;
  server: Server;
  url: string;
  pool: Pool;
  payments: Payments;
  gateway: PaymentGateway;
  relay: OutboxRelay;
  /** Null when anchoring is off (no BLOCKCHAIN_RPC_URL) or replaced by `anchor`. */
  anchoring: Anchoring | null;
  /** Waits until every queued anchor record is on chain (tests, graceful drain). */
  flushAnchors(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the payment service: migrations, outbox relay, consumers, reconciler, HTTP.
 * Port 0 picks a free port. `stop()` closes everything it opened (not the bus: the caller
 * owns it, since several services may share one).
 */
export async function startPaymentService(
  options: StartPaymentServiceOptions,
): Promise<RunningPaymentService> {
  const { config, bus } = options;
  const logger = options.logger ?? createLogger('payment-service', config.LOG_LEVEL);
  const pool = createPgPool(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  let anchoring: Anchoring | null = null;
  try {
    anchoring = options.anchor
      ? null
      : anchoringFromConfig(config, {
          pool,
          logger,
          recordTypes: {
            // Rebuilt from the tables as they are now, so a row edited in SQL shows as tampered.
            payment: { load: (_db, ref) => paymentStore.anchorPayload(pool, ref) },
          },
        });
    await runMigrations(pool, [...paymentMigrations, ...(anchoring ? [anchoring.migration] : [])]);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const gateway = options.gateway ?? new MockPaymentGateway();
  const payments = new Payments({
    pool,
    gateway,
    anchor: options.anchor ?? anchoring ?? noopAnchor,
    logger,
  });
  const relay = new OutboxRelay({
    pool,
    bus,
    logger,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
  });
  relay.start();
  const consumers =
    options.consume === false
      ? undefined
      : await subscribePaymentConsumers({ bus, pool, payments, logger });
  // Finishes charges and refunds whose result was never recorded (Payments.reconcile).
  const reconciler = periodicTask({
    name: 'payment-reconciler',
    intervalMs: config.RECONCILE_INTERVAL_MS,
    run: () => payments.reconcile(config.RECONCILE_AFTER_MS),
    logger,
  });
  reconciler.start();

  const app = createPaymentApp({
    pool,
    bus,
    payments,
    anchoring,
    orderService: createServiceClient({ name: 'order-service', baseUrl: config.ORDER_SERVICE_URL }),
    jwt: jwtVerifyOptionsFromConfig(config),
    logger,
    bodyLimit: config.BODY_LIMIT,
  });
  const { server, url } = await listenHttp(app, config.PORT, config.HOST);
  // Anchoring works in the background after the server is up; a chain that is down only
  // delays it (records stay pending and catch up).
  anchoring?.start();
  return {
    app,
    server,
    url,
    pool,
    payments,
    gateway,
    relay,
    anchoring,
    flushAnchors: (timeoutMs) => anchoring?.flush(timeoutMs) ?? Promise.resolve(),
    stop: stopOnce(
      () => closeHttpServer(server),
      () => consumers?.stop(),
      () => reconciler.stop(),
      () => relay.stop(),
      () => anchoring?.close(),
      () => pool.end(),
    ),
  };
}

// The package's public API (main → dist/service.js): what a launcher needs besides startPaymentService.
export { paymentConfigSchema, type PaymentConfig } from './config';
export { noopAnchor, type AnchorRecord, type AnchorSink } from '@ecom/common';
export type {
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from './gateway/gateway';
export { MockPaymentGateway } from './gateway/mock-gateway';
