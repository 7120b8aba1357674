import express, { type Express, type Router } from 'express';
import type { Registry } from 'prom-client';
import { healthRouter, type HealthCheck } from '../health/health-router';
import type { Logger } from '../logging/logger';
import { createMetrics, type Metrics, type MetricsAccess } from '../metrics/metrics';
import { allowedMethods } from './bind-routes';
import { errorHandler, methodNotAllowedHandler, notFoundHandler } from './error-handler';
import { jsonBody } from './json-body';
import { requestContext } from './request-context';
import { requestLogger } from './request-logger';
import { refuseUnstorableInput } from './storable-text';

export interface ServiceAppOptions {
  service: string;
  logger: Logger;
  version?: string;
  checks?: Record<string, HealthCheck>;
  /** Checks whose failure makes readiness `degraded`, not 503 (health-router). */
  degradedBy?: Record<string, HealthCheck>;
  bodyLimit?: string;
  /** The registry /metrics serves (a new one by default). */
  registry?: Registry;
  /** Who may read /metrics (default: anyone who reaches the service's port). */
  metricsAccess?: MetricsAccess;
  /** Express's `trust proxy` (default: loopback, the gateway on the same host). */
  trustProxy?: boolean | number | string;
}

export interface ServiceApp {
  app: Express;
  metrics: Metrics;
  /**
   * Mounts routers. A path one of bindRoutes' routers serves, asked with another method,
   * answers 405 with Allow rather than 404.
   */
  mount(...routers: Router[]): void;
  /** Call after mounting the routes: 405 or 404 for anything else, then the error handler. */
  finish(): Express;
}

/**
 * The Express app every service starts from: request and correlation ids, request logs,
 * metrics, health, a bounded and strict JSON body parser, then the refusal of paths that do
 * not decode and of text no store can hold. Routes are mounted by the service, then
 * `finish()` adds the 405, 404 and error handlers (they must come last).
 */
export function createServiceApp(options: ServiceAppOptions): ServiceApp {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? 'loopback');
  // Express 5's default "simple" query parser keeps `a[$ne]=1` as a flat key, which the
  // joi schemas then refuse: no nested objects from query strings reach a store.
  app.set('query parser', 'simple');
  const metrics = createMetrics(options.service, options.registry, options.metricsAccess);

  app.use(requestContext());
  app.use(requestLogger(options.logger));
  app.use(metrics.middleware);
  app.use(
    healthRouter({
      service: options.service,
      version: options.version,
      checks: options.checks,
      degradedBy: options.degradedBy,
    }),
  );
  app.use(metrics.router);
  app.use(jsonBody({ limit: options.bodyLimit ?? '100kb' }));
  app.use(refuseUnstorableInput());

  const mounted: Router[] = [];
  return {
    app,
    metrics,
    mount(...routers) {
      for (const router of routers) app.use(router);
      mounted.push(...routers);
    },
    finish() {
      app.use(methodNotAllowedHandler((path) => allowedMethods(mounted, path)));
      app.use(notFoundHandler());
      app.use(errorHandler(options.logger));
      return app;
    },
  };
}
