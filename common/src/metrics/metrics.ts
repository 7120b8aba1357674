import type { RequestHandler, Router } from 'express';
import { Router as createRouter } from 'express';
import client from 'prom-client';
import { routeLabel } from '../http/route-label';

export interface Metrics {
  registry: client.Registry;
  /** Records count and latency per method, route pattern and status. */
  middleware: RequestHandler;
  /** `GET /metrics` in the Prometheus text format. */
  router: Router;
}

/** One registry per app, so several apps in one test process do not share counters. */
export function createMetrics(service: string, registry = new client.Registry()): Metrics {
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry });

  const requests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  const middleware: RequestHandler = (req, res, next) => {
    const end = latency.startTimer();
    res.on('finish', () => {
      const labels = { method: req.method, route: routeLabel(req), status: String(res.statusCode) };
      requests.inc(labels);
      end(labels);
    });
    next();
  };

  const router = createRouter();
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });

  return { registry, middleware, router };
}
