import type { Express } from 'express';
import type { Pool } from 'pg';
import {
  createServiceApp,
  pgHealth,
  type EventBus,
  type JwtVerifyOptions,
  type Logger,
} from '@ecom/common';
import { orderRoutes } from './http/routes';
import type { Orders } from './orders';

export interface OrderAppDeps {
  pool: Pool;
  bus: EventBus;
  orders: Orders;
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
  return service.finish();
}
