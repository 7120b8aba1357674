import cors from 'cors';
import express, { type Express } from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import { jwtVerifyOptionsFromConfig, type JwtVerifyOptions } from '@ecom/common/auth';
import type { HealthCheck } from '@ecom/common/health';
import {
  allowedMethodsOf,
  errorHandler,
  methodNotAllowedHandler,
  notFoundHandler,
} from '@ecom/common/http';
import type { Logger } from '@ecom/common/logging';
import { presentsToken } from '@ecom/common/metrics';
import { createUpstreamProxy, type UpstreamProxy } from './breaker-proxy';
import { trustProxySetting } from '@ecom/common/config';
import { corsOrigins, parseByteSize, type GatewayConfig } from './config';
import { auditPageRoutes } from './audit-page';
import { limitClientConnections } from './client-connections';
import { docsRoutes } from './docs-page';
import { EdgeAuthenticator } from './edge-auth';
import { createEdge, type PlainMiddleware } from './edge';
import { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics';
import { healthRoutes } from './health';
import { createRateLimiter, type RateLimiter } from './rate-limit';
import { requestIds } from './request-ids';
import { apiSecurityHeaders } from './security-headers';
import { ResponseCache } from './response-cache';
import type { ApiSpec } from '@ecom/common/http';
import { gatewayApi, SERVICE_APIS } from './apis';
import { createRouteTable, upstreamUrls, type RouteTable, type UpstreamName } from './routes';

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  /** Shared rate limits and cache invalidation across instances; memory when absent. */
  redis?: Redis;
  /** The services' API specs it routes by (default: the platform's five). */
  apis?: readonly ApiSpec[];
  /** Token verification with the revoked-session list (default: from config, no list). */
  jwt?: JwtVerifyOptions;
}

export interface Gateway {
  /**
   * The request listener to serve (http.createServer(handler), supertest(handler)): routed
   * `/api/*` requests take the lean edge path, everything else goes to `app`.
   */
  handler: RequestListener;
  /** Express: health, metrics, docs, 404 and errors (and CORS preflights it does not route). */
  app: Express;
  proxies: Record<UpstreamName, UpstreamProxy>;
  routes: RouteTable;
  rateLimiter?: RateLimiter;
  cache?: ResponseCache;
  metrics: GatewayMetrics;
  /** Resolves when background subscriptions (cache invalidation) are in place. */
  ready: Promise<void>;
  /** Stops breakers, closes upstream sockets and the cache subscription (not the Redis client). */
  close(): Promise<void>;
}

export const EXPOSED_HEADERS = [
  'X-Request-Id',
  'X-Correlation-Id',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
  'X-Cache',
];

/** Builds the gateway's Express app from its config, a logger and (optionally) Redis. */
export function buildGateway({
  config,
  logger,
  redis,
  apis = SERVICE_APIS,
  jwt,
}: GatewayDeps): Gateway {
  const bodyLimitBytes = parseByteSize(config.BODY_LIMIT);
  const routes = createRouteTable(apis);
  const urls = upstreamUrls(config, apis);
  const proxies = {} as Record<UpstreamName, UpstreamProxy>;
  for (const name of routes.upstreams) {
    proxies[name] = createUpstreamProxy({
      name,
      targets: urls[name]!,
      healthCheck: {
        intervalMs: config.UPSTREAM_HEALTH_INTERVAL_MS,
        // May exceed the interval: a round still running when the next is due is not doubled.
        timeoutMs: config.HEALTH_TIMEOUT_MS,
      },
      timeoutMs: config.UPSTREAM_TIMEOUT_MS,
      clientTimeoutMs: config.CLIENT_TIMEOUT_MS,
      maxSockets: config.UPSTREAM_MAX_SOCKETS,
      bodyLimitBytes,
      logger,
      breaker: {
        errorThresholdPercentage: config.BREAKER_ERROR_THRESHOLD_PERCENTAGE,
        volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
        resetTimeoutMs: config.BREAKER_RESET_TIMEOUT_MS,
        rollingWindowMs: config.BREAKER_ROLLING_WINDOW_MS,
      },
    });
  }

  const metrics = createGatewayMetrics(() => Object.values(proxies), {
    token: config.METRICS_TOKEN,
    // The gateway is the public edge: in production its metrics need the token.
    open: config.NODE_ENV !== 'production',
  });
  const rateLimiter = config.RATE_LIMIT_ENABLED ? createRateLimiter(config, redis) : undefined;
  const cache =
    config.GATEWAY_CACHE_TTL_MS > 0
      ? new ResponseCache({
          ttlMs: config.GATEWAY_CACHE_TTL_MS,
          maxEntries: config.GATEWAY_CACHE_MAX_ENTRIES,
          maxBodyBytes: config.GATEWAY_CACHE_MAX_BODY_BYTES,
          redis,
          channel: `${config.GATEWAY_KEY_PREFIX}:cache:products`,
          logger,
        })
      : undefined;
  const ready = cache ? cache.start() : Promise.resolve();
  ready.catch((err: unknown) => logger.warn('cache invalidation channel unavailable', { err }));

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', trustProxySetting(config.TRUST_PROXY));

  const origins = corsOrigins(config.CORS_ORIGINS);
  const corsMiddleware =
    origins.length > 0
      ? cors({ origin: origins, credentials: true, exposedHeaders: EXPOSED_HEADERS, maxAge: 600 })
      : undefined;
  const withCors = (security: PlainMiddleware): PlainMiddleware[] =>
    corsMiddleware ? [security, corsMiddleware] : [security];

  app.use(requestIds());
  app.use(withCors(helmet()));

  const edge = createEdge({
    proxies,
    routes,
    auth: new EdgeAuthenticator(
      jwt ?? jwtVerifyOptionsFromConfig(config),
      config.JWT_CACHE_MAX_ENTRIES,
      Date.now,
      logger,
    ),
    rateLimiter,
    cache,
    metrics,
    logger,
    bodyLimitBytes,
    trustProxy: app.get('trust proxy fn') as (addr: string, i: number) => boolean,
    headerMiddleware: withCors(apiSecurityHeaders()),
  });
  // Per client connection: at most MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION pipelined requests
  // dispatched, and cut when it leaves its answers unread for CLIENT_TIMEOUT_MS.
  const handler: RequestListener = limitClientConnections(
    (req: IncomingMessage, res: ServerResponse) => {
      if (!edge(req, res)) app(req, res);
    },
    {
      maxInFlight: config.MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION,
      stallTimeoutMs: config.CLIENT_TIMEOUT_MS,
      logger,
      onClose: (reason) => metrics.clientConnectionClosed(reason),
    },
  );

  const ownChecks: Record<string, HealthCheck> = {};
  if (redis) ownChecks.redis = () => redis.ping();
  app.use(
    healthRoutes({
      upstreams: urls,
      proxies,
      timeoutMs: config.HEALTH_TIMEOUT_MS,
      cacheMs: config.HEALTH_CACHE_MS,
      ownChecks,
      // As /metrics: in production only an operator (the metrics token) sees addresses.
      showsInternals: (req) =>
        config.NODE_ENV !== 'production' ||
        (config.METRICS_TOKEN !== undefined && presentsToken(req, config.METRICS_TOKEN)),
    }),
  );
  app.use(metrics.router);
  app.use(docsRoutes(apis));
  app.use(auditPageRoutes({ rpcOrigins: corsOrigins(config.AUDIT_RPC_ORIGINS) }));
  // Its own paths asked with another method: 405 with Allow, as the services answer; not for
  // /metrics where it is not served (it must look absent).
  const metricsHidden = config.NODE_ENV === 'production' && !config.METRICS_TOKEN;
  app.use(
    methodNotAllowedHandler((path) =>
      metricsHidden && /^\/metrics\/?$/i.test(path) ? [] : allowedMethodsOf([gatewayApi], path),
    ),
  );
  app.use(notFoundHandler());
  app.use(errorHandler(logger));

  return {
    handler,
    app,
    proxies,
    routes,
    rateLimiter,
    cache,
    metrics,
    ready,
    async close() {
      for (const proxy of Object.values(proxies)) proxy.close();
      await cache?.close();
    },
  };
}
