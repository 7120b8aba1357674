import type { Express } from 'express';
import type { Pool } from 'pg';
import {
  createServiceApp,
  pgHealth,
  type Anchoring,
  type EventBus,
  type JwtVerifyOptions,
  type Logger,
} from '@ecom/common';
import { orderBlockchainRoutes } from './http/blockchain-routes';
import { orderRoutes } from './http/routes';
import type { Orders } from './orders';

export interface OrderAppDeps {
  pool: Pool;
  bus: EventBus;
  orders: Orders;
  /** Blockchain anchoring; null when off (its routes answer 503). */
  anchoring: Anchoring | null;
  jwt: JwtVerifyOptions;
  logger: Logger;
  bodyLimit?: string;
}

/** The order service's Express app, built from injected dependencies (no I/O here). */
export function createOrderApp(deps: OrderAppDeps): Express {
  const service = createServiceApp({
    service: 'order-service',
    logger: deps.logger,
    bodyLimit: deps.bodyLimit,
    checks: {
      postgres: () => pgHealth(deps.pool),
      eventBus: () => deps.bus.health(),
    },
  });
  service.app.use('/api/orders', orderRoutes(deps.orders, deps.jwt));
  service.app.use(
    '/api/blockchain',
    orderBlockchainRoutes({ anchoring: deps.anchoring, orders: deps.orders, jwt: deps.jwt }),
  );
  return service.finish();
}
