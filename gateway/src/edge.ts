import type { Request, RequestHandler, Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { getContext, type Logger } from '@ecom/common';
import type { UpstreamProxy } from './breaker-proxy';
import { clientKey } from './client-ip';
import { EdgeAuthenticator, missingTokenError } from './edge-auth';
import { prepareForwardHeaders } from './forwarding';
import type { GatewayMetrics } from './gateway-metrics';
import { sendError } from './http-errors';
import type { RateLimiter } from './rate-limit';
import type { ResponseCache } from './response-cache';
import { bucketFor, hasDotSegment, isPublicRoute, matchRoute, type UpstreamName } from './routes';

export interface EdgeDeps {
  proxies: Record<UpstreamName, UpstreamProxy>;
  auth: EdgeAuthenticator;
  rateLimiter?: RateLimiter;
  cache?: ResponseCache;
  metrics: GatewayMetrics;
  logger: Logger;
  bodyLimitBytes: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isProductsPath(path: string): boolean {
  return path === '/api/products' || path.startsWith('/api/products/');
}

/**
 * The hot path for `/api/*`, in one middleware so a proxied request crosses as few layers
 * as possible: route lookup, Content-Length limit, local JWT check, one rate-limit decision,
 * identity-header stripping, optional cache, then the upstream's breaker-wrapped proxy.
 * Nothing parses the body: it streams to the service untouched.
 */
export function edgeHandler(deps: EdgeDeps): RequestHandler {
  const logRequests = deps.logger.isLevelEnabled('http');

  const finish = (req: Request, res: Response, upstream: string, started: number) => {
    res.once('finish', () => {
      const seconds = (performance.now() - started) / 1000;
      deps.metrics.observe(upstream, req.method, res.statusCode, seconds);
      if (logRequests || res.statusCode >= 500) {
        deps.logger.log(res.statusCode >= 500 ? 'warn' : 'http', 'request', {
          method: req.method,
          path: req.originalUrl.split('?')[0],
          upstream,
          status: res.statusCode,
          durationMs: Math.round(seconds * 10_000) / 10,
          userId: req.user?.id,
        });
      }
    });
  };

  async function handle(req: Request, res: Response, upstream: UpstreamName, path: string) {
    finish(req, res, upstream, performance.now());
    const method = req.method;

    if (hasDotSegment(path)) {
      sendError(req, res, 400, 'INVALID_PATH', 'Path segments "." and ".." are not allowed');
      return;
    }
    const contentLength = req.headers['content-length'];
    if (contentLength !== undefined && Number(contentLength) > deps.bodyLimitBytes) {
      sendError(req, res, 413, 'PAYLOAD_TOO_LARGE', 'Request body is too large', undefined, {
        Connection: 'close',
      });
      return;
    }

    const identity = deps.auth.identify(req.headers.authorization);
    if (identity.kind === 'user') {
      req.user = identity.user;
      const ctx = getContext();
      if (ctx) ctx.userId = identity.user.id;
    }

    if (deps.rateLimiter) {
      const bucket = bucketFor(method, path);
      // Sign-in budgets are per address: they exist to slow down guessing from one place.
      const key =
        identity.kind === 'user' && bucket !== 'auth' ? `u:${identity.user.id}` : clientKey(req.ip);
      let decision;
      try {
        decision = await deps.rateLimiter.consume(bucket, key);
      } catch (err) {
        // Both Redis and its in-memory insurance failed: serve rather than refuse everyone.
        deps.logger.error('rate limiter failed', { err });
      }
      if (decision) {
        res.setHeader('RateLimit-Limit', decision.limit);
        res.setHeader('RateLimit-Remaining', decision.remaining);
        res.setHeader('RateLimit-Reset', decision.resetSeconds);
        if (!decision.allowed) {
          deps.metrics.rateLimited(bucket);
          sendError(
            req,
            res,
            429,
            'RATE_LIMITED',
            'Too many requests',
            { bucket, retryAfterSeconds: decision.resetSeconds },
            { 'Retry-After': String(decision.resetSeconds) },
          );
          return;
        }
      }
    }

    if (identity.kind !== 'user' && !isPublicRoute(method, path)) {
      const error = identity.kind === 'rejected' ? identity.error : missingTokenError();
      sendError(req, res, error.status, error.code, error.message, error.details);
      return;
    }

    prepareForwardHeaders(req.headers, req.requestId, req.correlationId);

    const cache = deps.cache;
    if (cache && isProductsPath(path)) {
      if (!SAFE_METHODS.has(method)) {
        // Bump before and after the write so no read in flight across it gets stored.
        cache.invalidate();
        res.once('finish', () => cache.invalidate());
      } else if (method === 'GET' && req.headers.authorization === undefined) {
        const key = req.url;
        const hit = cache.get(key);
        if (hit) {
          deps.metrics.cache('hit');
          res.statusCode = hit.status;
          for (const name in hit.headers) res.setHeader(name, hit.headers[name]!);
          res.setHeader('X-Cache', 'HIT');
          res.setHeader('Age', Math.floor((Date.now() - hit.storedAt) / 1000));
          res.end(hit.body);
          return;
        }
        deps.metrics.cache('miss');
        const generation = cache.generation;
        res.setHeader('X-Cache', 'MISS');
        await deps.proxies[upstream].forward(req, res, (proxyRes: IncomingMessage) => {
          renameUpstreamCacheHeader(proxyRes);
          cache.capture(key, proxyRes, generation);
        });
        return;
      } else {
        deps.metrics.cache('bypass');
        res.setHeader('X-Cache', 'BYPASS');
        await deps.proxies[upstream].forward(req, res, renameUpstreamCacheHeader);
        return;
      }
    }

    await deps.proxies[upstream].forward(req, res);
  }

  return (req, res, next) => {
    const url = req.url;
    if (!url.startsWith('/api/')) {
      next();
      return;
    }
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const upstream = matchRoute(path);
    if (!upstream) {
      next();
      return;
    }
    handle(req, res, upstream, path).catch(next);
  };
}

/** The product service may report its own cache: keep that apart from the gateway's X-Cache. */
function renameUpstreamCacheHeader(proxyRes: IncomingMessage): void {
  const upstreamCache = proxyRes.headers['x-cache'];
  if (upstreamCache !== undefined) {
    delete proxyRes.headers['x-cache'];
    proxyRes.headers['x-upstream-cache'] = upstreamCache;
  }
}
