import type { Express } from 'express';
import type { Pool } from 'pg';
import {
  createServiceApp,
  pgHealth,
  type EventBus,
  type JwtVerifyOptions,
  type Logger,
} from '@ecom/common';
import { paymentRoutes } from './http/routes';
import type { Payments } from './payments';

export interface PaymentAppDeps {
  pool: Pool;
  bus: EventBus;
  payments: Payments;
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
  return service.finish();
}
