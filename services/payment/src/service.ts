import { Counter } from '@ecom/common/metrics';
import { openAnchoredStore, type AnchorSink } from '@ecom/common/anchoring';
import { periodicTask } from '@ecom/common/lifecycle';
import { OutboxRelay, createIdempotencyStore, pgHealth } from '@ecom/common/postgres';
import { defineService, type RunningService } from '@ecom/common/service';
import { anchoredStoreMetrics, clientMetrics } from '@ecom/common/metrics';
import { PaymentClaims } from './application/claims';
import { GatewayCalls } from './application/gateway-calls';
import { Payments } from './application/payments';
import { Reconciliation } from './application/reconciliation';
import { PaymentSaga } from './application/saga';
import { createOrderAnchors, createOrderClient } from './clients/order-anchors';
import { paymentConfigSchema, type PaymentConfig } from './config';
import { subscribePaymentConsumers } from './events/consumers';
import type { PaymentGateway } from './gateway/gateway';
import { MockPaymentGateway } from './gateway/mock-gateway';
import { ProviderPaymentGateway } from './gateway/provider-gateway';
import { ProviderWebhooks } from './application/webhooks';
import { PgMockGatewayLedger } from './gateway/mock-ledger';
import { paymentRoutes } from './http/routes';
import { paymentRecord } from './store/payment-record';
import { paymentMigrations } from './store/migrations';

/** What a launcher or a test may replace. */
export interface PaymentServiceOptions {
  /**
   * The gateway adapter; by default the deterministic MockPaymentGateway keeping its
   * idempotency keys in payment_db (mock_gateway_* tables), so they survive a restart.
   */
  gateway?: PaymentGateway;
  /**
   * Replaces the anchoring built from the configuration (BLOCKCHAIN_RPC_URL...): called inside
   * the transaction of payment completed / refunded. Tests pass a recorder.
   */
  anchor?: AnchorSink;
  /** false: an HTTP-only instance that consumes no events. */
  consume?: boolean;
}

/**
 * The payment service: PostgreSQL (payment_db) with its migrations, the outbox relay, the
 * saga's consumers, the reconciler (claims whose result was never recorded), anchoring, HTTP.
 */
export const paymentService = defineService({
  name: 'payment',
  configSchema: paymentConfigSchema,
  async build({ config, bus, logger, registry, onClose, jwt }, options: PaymentServiceOptions) {
    const { pool, anchors } = await openAnchoredStore(config, {
      migrations: paymentMigrations,
      logger,
      onClose,
      replacement: options.anchor,
      recordTypes: {
        // What entries are written from and checked against: an edit in SQL shows as tampered.
        payment: paymentRecord,
      },
    });
    anchoredStoreMetrics(registry, pool, anchors.anchoring);

    const gateway =
      options.gateway ??
      (config.PAYMENT_GATEWAY === 'provider'
        ? new ProviderPaymentGateway({ url: config.PAYMENT_PROVIDER_URL! })
        : new MockPaymentGateway({ ledger: new PgMockGatewayLedger(pool) }));
    const claims = new PaymentClaims({ logger });
    // Money the provider's books and ours disagree on: each needs an operator (docs/monitoring.md).
    const refundsRefused = new Counter({
      name: 'payment_refunds_refused_total',
      help: 'Refunds the provider refused (a refund made at its dashboard, a dispute): what it still holds is not refunded again by itself',
      registers: [registry],
    });
    const capturesUnclaimed = new Counter({
      name: 'payment_captures_unclaimed_total',
      help: 'Charges the provider reports captured for an attempt this service recorded as failed: to be refunded at the provider',
      registers: [registry],
    });
    const calls = new GatewayCalls({
      pool,
      gateway,
      claims,
      anchor: anchors.sink,
      logger,
      refundRefused: () => refundsRefused.inc(),
    });
    const saga = new PaymentSaga({ claims, anchor: anchors.sink, logger });
    const payments = new Payments({
      pool,
      anchor: anchors.sink,
      idempotency: createIdempotencyStore(pool),
      claims,
      calls,
      catchUpMs: config.PAYMENT_CATCH_UP_MS,
    });
    const reconciliation = new Reconciliation({
      pool,
      calls,
      logger,
      actionTimeoutMs: config.PAYMENT_ACTION_TIMEOUT_MS,
    });
    const webhooks = new ProviderWebhooks({
      pool,
      calls,
      anchor: anchors.sink,
      logger,
      captureUnclaimed: () => capturesUnclaimed.inc(),
      // Accepted in provider mode only: the mock gateway sends none.
      secrets:
        config.PAYMENT_GATEWAY === 'provider'
          ? (config.PAYMENT_WEBHOOK_SECRET ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
      toleranceSeconds: config.PAYMENT_WEBHOOK_TOLERANCE_SECONDS,
    });
    const relay = new OutboxRelay({
      pool,
      bus,
      logger,
      pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
    });
    const reconciler = periodicTask({
      name: 'payment-reconciler',
      intervalMs: config.RECONCILE_INTERVAL_MS,
      run: () => reconciliation.run(config.RECONCILE_AFTER_MS),
      logger,
    });
    // Balanced over ORDER_SERVICE_URL's replicas; their health checks stop with us.
    const orderClient = clientMetrics(registry).watch(
      'order',
      createOrderClient(config.ORDER_SERVICE_URL),
    );
    onClose('order client', () => orderClient.close());
    return {
      routers: [
        paymentRoutes({
          payments,
          webhooks,
          anchoring: anchors.anchoring,
          orderAnchors: createOrderAnchors(config.ORDER_SERVICE_URL, { client: orderClient }),
          jwt,
        }),
      ],
      health: { postgres: () => pgHealth(pool) },
      consumers:
        options.consume === false
          ? []
          : [(observer) => subscribePaymentConsumers({ bus, pool, saga, calls, logger, observer })],
      workers: [relay, reconciler, ...anchors.workers],
      exports: {
        pool,
        gateway,
        /** The gateway when it is the mock (its ledger: exactly-once checks), else null. */
        mockGateway: gateway instanceof MockPaymentGateway ? gateway : null,
        payments,
        webhooks,
        saga,
        calls,
        reconciliation,
        relay,
        reconciler,
        /** Null when anchoring is off (no BLOCKCHAIN_RPC_URL) or replaced by `anchor`. */
        anchoring: anchors.anchoring,
        flushAnchors: anchors.flush,
      },
    };
  },
});

export type RunningPaymentService = RunningService<
  Awaited<ReturnType<typeof paymentService.build>>['exports']
>;
export type { PaymentConfig };
