import { openAnchoredStore, type AnchorSink } from '@ecom/common/anchoring';
import { createProductClient } from '@ecom/common/client';
import { periodicTask } from '@ecom/common/lifecycle';
import { OutboxRelay, createIdempotencyStore, pgHealth } from '@ecom/common/postgres';
import { defineService, type RunningService } from '@ecom/common/service';
import { anchoredStoreMetrics, clientMetrics } from '@ecom/common/metrics';
import { Carts } from './application/carts';
import { Orders } from './application/orders';
import { orderMetrics } from './application/order-metrics';
import { OrderSaga } from './application/saga';
import { OrderTimers } from './application/timers';
import { OrderTransitions } from './application/transitions';
import { createProductCatalog, type ProductCatalog } from './clients/catalog';
import {
  createAuthClient,
  createProfileDirectory,
  type ProfileDirectory,
} from './clients/profile-client';
import { orderConfigSchema, type OrderConfig } from './config';
import { subscribeOrderConsumers } from './events/consumers';
import { orderRoutes } from './http/routes';
import { orderRecord } from './store/order-record';
import { orderMigrations } from './store/migrations';

/** What a launcher or a test may replace. */
export interface OrderServiceOptions {
  /**
   * Replaces the anchoring built from the configuration (BLOCKCHAIN_RPC_URL...): called inside
   * the transaction of every status change. Tests pass a recorder.
   */
  anchor?: AnchorSink;
  /** Replaces the HTTP product catalog. */
  catalog?: ProductCatalog;
  /** Replaces the HTTP profile reads from auth (shipping address when the order has none). */
  profiles?: ProfileDirectory;
  /** false: an HTTP-only instance that consumes no events. */
  consume?: boolean;
}

/**
 * The order service: PostgreSQL (order_db) with its migrations, the outbox relay, the saga's
 * consumers, the sweeper (expired reservations, overdue and stuck payments, orders left
 * PENDING, idle guest carts), anchoring, HTTP.
 */
export const orderService = defineService({
  name: 'order',
  configSchema: orderConfigSchema,
  async build({ config, bus, logger, registry, onClose, jwt }, options: OrderServiceOptions) {
    const { pool, anchors } = await openAnchoredStore(config, {
      migrations: orderMigrations,
      logger,
      onClose,
      replacement: options.anchor,
      recordTypes: {
        // What entries are written from and checked against: an edit in SQL shows as tampered.
        order: orderRecord,
      },
    });

    // Balanced over the replicas each URL variable lists; their health checks stop with us.
    const clients = clientMetrics(registry);
    const productCatalog = () => {
      const client = clients.watch(
        'product',
        createProductClient({
          baseUrl: config.PRODUCT_SERVICE_URL,
          timeoutMs: config.PRODUCT_TIMEOUT_MS,
        }),
      );
      onClose('product client', () => client.close());
      return createProductCatalog(config.PRODUCT_SERVICE_URL, {
        client,
        quoteTtlMs: config.QUOTE_CACHE_TTL_MS,
      });
    };
    const profileDirectory = () => {
      const client = clients.watch(
        'auth',
        createAuthClient(config.AUTH_SERVICE_URL, { timeoutMs: config.AUTH_TIMEOUT_MS }),
      );
      onClose('auth client', () => client.close());
      return createProfileDirectory(config.AUTH_SERVICE_URL, { client });
    };
    anchoredStoreMetrics(registry, pool, anchors.anchoring);
    const transitions = new OrderTransitions({
      anchor: anchors.sink,
      logger,
      metrics: orderMetrics(registry, pool),
    });
    const catalog = options.catalog ?? productCatalog();
    const orders = new Orders({
      pool,
      transitions,
      idempotency: createIdempotencyStore(pool),
      catalog,
      profiles: options.profiles ?? profileDirectory(),
      unpaidHolds: {
        maxOrders: config.UNPAID_HOLD_MAX_ORDERS,
        maxUnits: config.UNPAID_HOLD_MAX_UNITS,
      },
    });
    const carts = new Carts({
      pool,
      catalog,
      orders,
      guestIdleMs: config.CART_GUEST_IDLE_MS,
      guestEmptyIdleMs: config.CART_GUEST_EMPTY_IDLE_MS,
    });
    const saga = new OrderSaga({
      transitions,
      catalog,
      logger,
      reservationTtlMs: config.RESERVATION_TTL_MS,
    });
    const timers = new OrderTimers({
      pool,
      transitions,
      logger,
      paymentOverdueMs: config.PAYMENT_OVERDUE_MS,
      paymentGiveUpMs: config.PAYMENT_GIVE_UP_MS,
      pendingResendAfterMs: config.PENDING_RESEND_AFTER_MS,
      pendingMaxResends: config.PENDING_MAX_RESENDS,
    });
    const relay = new OutboxRelay({
      pool,
      bus,
      logger,
      pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
      // The card token is for payment only: once the bus has the event, order keeps none.
      eraseOnSend: { 'order.created': ['data.payment.token'] },
    });
    const sweeper = periodicTask({
      name: 'order-sweeper',
      intervalMs: config.SWEEP_INTERVAL_MS,
      run: async () => {
        await timers.sweep();
        await carts.sweep();
      },
      logger,
    });
    return {
      routers: [
        orderRoutes({
          orders,
          carts,
          anchoring: anchors.anchoring,
          jwt,
        }),
      ],
      health: { postgres: () => pgHealth(pool) },
      consumers:
        options.consume === false
          ? []
          : [(observer) => subscribeOrderConsumers({ bus, pool, saga, logger, observer })],
      // The sweeper also runs once at start: what stalled while the service was down is
      // repaired without waiting for the first interval.
      workers: [
        relay,
        {
          start() {
            sweeper.start();
            void sweeper.runOnce();
          },
          stop: () => sweeper.stop(),
        },
        ...anchors.workers,
      ],
      exports: {
        pool,
        orders,
        carts,
        saga,
        timers,
        relay,
        sweeper,
        /** Null when anchoring is off (no BLOCKCHAIN_RPC_URL) or replaced by `anchor`. */
        anchoring: anchors.anchoring,
        flushAnchors: anchors.flush,
      },
    };
  },
});

export type RunningOrderService = RunningService<
  Awaited<ReturnType<typeof orderService.build>>['exports']
>;
export type { OrderConfig };
