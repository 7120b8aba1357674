import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Pool } from 'pg';
import {
  OutboxRelay,
  anchoringFromConfig,
  periodicTask,
  closeHttpServer,
  createLogger,
  createPgPool,
  jwtVerifyOptionsFromConfig,
  listenHttp,
  runMigrations,
  stopOnce,
  type Anchoring,
  type EventBus,
  type Logger,
  type PeriodicTask,
} from '@ecom/common';
import { noopAnchor, type AnchorSink } from '@ecom/common';
import { createOrderApp } from './app';
import type { OrderConfig } from './config';
import { subscribeOrderConsumers } from './events/consumers';
import { orderMigrations } from './migrations';
import { Orders } from './orders';
import { createProfileDirectory, type ProfileDirectory } from './clients/profile-client';
import { createProductCatalog, type ProductCatalog } from './product-client';
import { orderStore } from './store/order-store';

export interface StartOrderServiceOptions {
  config: OrderConfig;
  bus: EventBus;
  logger?: Logger;
  /**
   * Replaces the anchoring built from the configuration (BLOCKCHAIN_RPC_URL...): called inside
   * the transaction of every status change. Tests pass a recorder; no-op when anchoring is off.
   */
  anchor?: AnchorSink;
  /** Replaces the HTTP product catalog (e.g. a launcher wiring services in one process). */
  catalog?: ProductCatalog;
  /** Replaces the HTTP profile reads from auth (shipping address when the order has none). */
  profiles?: ProfileDirectory;
  /** Subscribe to the bus (default true); false starts an HTTP-only instance. */
  consume?: boolean;
}

export interface RunningOrderService {
  app: Express;
  server: Server;
  url: string;
  pool: Pool;
  orders: Orders;
  relay: OutboxRelay;
  /** Expired reservations, overdue and stuck payments (Orders.sweep) every SWEEP_INTERVAL_MS. */
  sweeper: PeriodicTask;
  /** Null when anchoring is off (no BLOCKCHAIN_RPC_URL) or replaced by `anchor`. */
  anchoring: Anchoring | null;
  /** Waits until every queued anchor record is on chain (tests, graceful drain). */
  flushAnchors(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the order service: migrations, outbox relay, consumers, reservation sweeper, HTTP.
 * Port 0 picks a free port. `stop()` closes everything it opened (not the bus: the caller
 * owns it, since several services may share one).
 */
export async function startOrderService(
  options: StartOrderServiceOptions,
): Promise<RunningOrderService> {
  const { config, bus } = options;
  const logger = options.logger ?? createLogger('order-service', config.LOG_LEVEL);
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
            order: { load: (_db, { sourceId }) => orderStore.anchorPayload(pool, sourceId) },
          },
        });
    await runMigrations(pool, [...orderMigrations, ...(anchoring ? [anchoring.migration] : [])]);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const catalog =
    options.catalog ??
    createProductCatalog(config.PRODUCT_SERVICE_URL, { timeoutMs: config.PRODUCT_TIMEOUT_MS });
  const orders = new Orders({
    pool,
    catalog,
    profiles:
      options.profiles ??
      createProfileDirectory(config.AUTH_SERVICE_URL, { timeoutMs: config.AUTH_TIMEOUT_MS }),
    anchor: options.anchor ?? anchoring ?? noopAnchor,
    logger,
    reservationTtlMs: config.RESERVATION_TTL_MS,
    paymentOverdueMs: config.PAYMENT_OVERDUE_MS,
    paymentGiveUpMs: config.PAYMENT_GIVE_UP_MS,
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
      : await subscribeOrderConsumers({ bus, pool, orders, logger });
  const sweeper = periodicTask({
    name: 'order-sweeper',
    intervalMs: config.SWEEP_INTERVAL_MS,
    run: () => orders.sweep(),
    logger,
  });
  sweeper.start();

  const app = createOrderApp({
    pool,
    bus,
    orders,
    anchoring,
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
    orders,
    relay,
    sweeper,
    anchoring,
    flushAnchors: (timeoutMs) => anchoring?.flush(timeoutMs) ?? Promise.resolve(),
    stop: stopOnce(
      () => closeHttpServer(server),
      () => consumers?.stop(),
      () => sweeper.stop(),
      () => relay.stop(),
      () => anchoring?.close(),
      () => pool.end(),
    ),
  };
}

// The package's public API (main → dist/service.js): what a launcher needs besides startOrderService.
export { orderConfigSchema, type OrderConfig } from './config';
export { noopAnchor, type AnchorRecord, type AnchorSink } from '@ecom/common';
export type { ProductCatalog } from './product-client';
