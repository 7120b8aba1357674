import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Router } from 'express';
import { Router as createRouter } from 'express';
import client from 'prom-client';
import { NotFoundError, UnauthorizedError } from '../errors/app-error';
import { routeLabel } from '../http/route-label';

export interface Metrics {
  registry: client.Registry;
  /** Records count and latency per method, route pattern and status. */
  middleware: RequestHandler;
  /** `GET /metrics` in the Prometheus text format. */
  router: Router;
}

/**
 * Who may read `/metrics`. With a token, only `Authorization: Bearer <token>` (Prometheus's
 * `authorization` setting); without one, anyone who reaches the port when `open`, nobody when
 * not (a public edge in production: 404, as if there were no such route).
 */
export interface MetricsAccess {
  token?: string;
  open?: boolean;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether a request carries `Authorization: Bearer <token>`: the scheme's name in any letter
 * case (RFC 9110 §11.1), the token compared as a digest (equal length, constant time).
 */
export function presentsToken(req: Request, token: string): boolean {
  const given = /^bearer +(.*)$/i.exec(req.get('authorization') ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

function metricsGuard(access: MetricsAccess): RequestHandler {
  const { token } = access;
  return (req, _res, next) => {
    if (token) {
      if (presentsToken(req, token)) next();
      else next(new UnauthorizedError('Metrics need the metrics token', { reason: 'metrics' }));
      return;
    }
    if (access.open === false) next(new NotFoundError(`No route for GET ${req.path}`));
    else next();
  };
}

/**
 * How often the event-loop lag is sampled. prom-client's default (10 ms) wakes every process a
 * hundred times a second, idle or not, and on a VM each wake-up costs: an idle fleet of eight
 * processes spent about 80 ms of CPU a second on little else. A block longer than this is always
 * seen; the lag percentiles come from fewer samples, still hundreds per scrape interval.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** One registry per app, so several apps in one test process do not share counters. */
export function createMetrics(
  service: string,
  registry = new client.Registry(),
  access: MetricsAccess = {},
): Metrics {
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({
    register: registry,
    eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
  });

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
  router.get('/metrics', metricsGuard(access), async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.send(await registry.metrics());
  });

  return { registry, middleware, router };
}
