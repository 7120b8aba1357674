import type { Express } from 'express';
import type { Pool } from 'pg';
import {
  createServiceApp,
  pgHealth,
  type Anchoring,
  type EventBus,
  type JwtVerifyOptions,
  type Logger,
  type ServiceClient,
} from '@ecom/common';
import { paymentBlockchainRoutes } from './http/blockchain-routes';
import { paymentRoutes } from './http/routes';
import type { Payments } from './payments';

export interface PaymentAppDeps {
  pool: Pool;
  bus: EventBus;
  payments: Payments;
  /** Blockchain anchoring; null when off (its routes answer 503). */
  anchoring: Anchoring | null;
  /** The order service (verify falls back to it for its batches). */
  orderService: ServiceClient;
  jwt: JwtVerifyOptions;
  logger: Logger;
  bodyLimit?: string;
}

/** The payment service's Express app, built from injected dependencies (no I/O here). */
export function createPaymentApp(deps: PaymentAppDeps): Express {
  const service = createServiceApp({
    service: 'payment-service',
    logger: deps.logger,
    bodyLimit: deps.bodyLimit,
    checks: {
      postgres: () => pgHealth(deps.pool),
      eventBus: () => deps.bus.health(),
    },
  });
  service.app.use('/api/payments', paymentRoutes(deps.payments, deps.jwt));
  service.app.use(
    '/api/blockchain',
    paymentBlockchainRoutes({
      anchoring: deps.anchoring,
      payments: deps.payments,
      orderService: deps.orderService,
      jwt: deps.jwt,
    }),
  );
  return service.finish();
}
