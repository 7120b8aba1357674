import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { AuthUser } from '@ecom/common/auth';
import type { Logger } from '@ecom/common/logging';
import { injectTraceHeaders } from '@ecom/common/tracing';
import type { UpstreamProxy } from './breaker-proxy';
import { clientKey } from './client-ip';
import { EdgeAuthenticator, missingTokenError } from './edge-auth';
import { prepareForwardHeaders } from './forwarding';
import type { GatewayMetrics } from './gateway-metrics';
import { sendError } from './http-errors';
import { assignRequestIds } from './request-ids';
import type { RateLimiter } from './rate-limit';
import type { ResponseCache } from './response-cache';
import {
  hasDotSegment,
  hasForbiddenCharacter,
  hasMalformedEncoding,
  type RouteTable,
  type UpstreamName,
} from './routes';

/** A proxied request: plain Node objects, never Express's (its per-request setup is not free). */
export type EdgeRequest = IncomingMessage & {
  requestId?: string;
  correlationId?: string;
  user?: AuthUser;
  /** The route's body limit when it has its own (an upload); the proxy counts chunked bodies by it. */
  bodyLimitBytes?: number;
};

/** Connect-style middleware run on the hot path (helmet, cors): sync, calls next or answers. */
export type PlainMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

export interface EdgeDeps {
  proxies: Record<UpstreamName, UpstreamProxy>;
  /** Routing, public routes and rate-limit buckets, from the services' API specs. */
  routes: RouteTable;
  auth: EdgeAuthenticator;
  rateLimiter?: RateLimiter;
  cache?: ResponseCache;
  metrics: GatewayMetrics;
  logger: Logger;
  bodyLimitBytes: number;
  /**
   * Express's compiled `trust proxy` function: for the client address, and to decide per
   * connection whether the peer is a proxy whose `X-Forwarded-*` may be passed on.
   */
  trustProxy: (addr: string, i: number) => boolean;
  /** Security headers for API answers, then cors when configured. */
  headerMiddleware: PlainMiddleware[];
}

export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function isProductsPath(path: string): boolean {
  return path === '/api/products' || path.startsWith('/api/products/');
}

/** The product service may report its own cache: keep that apart from the gateway's X-Cache. */
function renameUpstreamCacheHeader(proxyRes: IncomingMessage): void {
  const upstreamCache = proxyRes.headers['x-cache'];
  if (upstreamCache !== undefined) {
    delete proxyRes.headers['x-cache'];
    proxyRes.headers['x-upstream-cache'] = upstreamCache;
  }
}

/**
 * The hot path for routed `/api/*` requests, on plain Node request/response objects in
 * front of Express: request ids, security and CORS headers, Content-Length limit, local JWT
 * check, one rate-limit decision, identity-header stripping, optional cache, then the
 * upstream's breaker-wrapped proxy. Nothing parses the body: it streams to the service.
 * Returns false for anything it does not route (Express answers those).
 */
export function createEdge(deps: EdgeDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const logRequests = deps.logger.isLevelEnabled('http');

  function observe(req: EdgeRequest, res: ServerResponse, upstream: string) {
    const started = performance.now();
    // 'close' rather than 'finish': answers cut midway (upstream died or stalled, client left)
    // are counted and logged too, as status "aborted".
    res.once('close', () => {
      const seconds = (performance.now() - started) / 1000;
      const status = res.writableFinished ? res.statusCode : 'aborted';
      deps.metrics.observe(upstream, req.method ?? 'GET', status, seconds);
      const failed = status === 'aborted' || status >= 500;
      if (logRequests || failed) {
        deps.logger.log(failed ? 'warn' : 'http', 'request', {
          method: req.method,
          path: (req.url ?? '').split('?')[0],
          upstream,
          status,
          durationMs: Math.round(seconds * 10_000) / 10,
          userId: req.user?.id,
          requestId: req.requestId,
          correlationId: req.correlationId,
        });
      }
    });
  }

  async function handle(
    req: EdgeRequest,
    res: ServerResponse,
    upstream: UpstreamName,
    path: string,
  ) {
    const method = req.method ?? 'GET';
    if (hasDotSegment(path)) {
      sendError(req, res, 400, 'INVALID_PATH', 'Path segments "." and ".." are not allowed');
      return;
    }
    if (hasForbiddenCharacter(req.url ?? path)) {
      sendError(req, res, 400, 'INVALID_PATH', 'The request target may not contain "#" or "\\"');
      return;
    }
    if (hasMalformedEncoding(path)) {
      sendError(
        req,
        res,
        400,
        'MALFORMED_URL',
        'The request path is not valid percent-encoded UTF-8',
      );
      return;
    }
    req.bodyLimitBytes = deps.routes.bodyLimitFor(method, path);
    const bodyLimit = req.bodyLimitBytes ?? deps.bodyLimitBytes;
    const contentLength = req.headers['content-length'];
    if (contentLength !== undefined && Number(contentLength) > bodyLimit) {
      sendError(req, res, 413, 'PAYLOAD_TOO_LARGE', 'Request body is too large', undefined, {
        Connection: 'close',
      });
      return;
    }

    const identity = await deps.auth.identify(req.headers.authorization);
    if (identity.kind === 'user') req.user = identity.user;

    if (deps.rateLimiter) {
      const bucket = deps.routes.bucketFor(method, path);
      // Sign-in budgets are per address: they exist to slow down guessing from one place.
      const key =
        identity.kind === 'user' && bucket !== 'auth'
          ? `u:${identity.user.id}`
          : clientKey(proxyaddr(req, deps.trustProxy));
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

    if (identity.kind !== 'user' && !deps.routes.isPublic(method, path)) {
      const error = identity.kind === 'rejected' ? identity.error : missingTokenError();
      sendError(req, res, error.status, error.code, error.message, error.details);
      return;
    }

    prepareForwardHeaders(req.headers, {
      requestId: req.requestId,
      correlationId: req.correlationId,
      dropClientForwarding: !deps.trustProxy(req.socket.remoteAddress ?? '', 0),
    });
    // The service continues the gateway's request span (itself a client's traceparent's child).
    injectTraceHeaders(req.headers);
    const proxy = deps.proxies[upstream]!;

    const cache = deps.cache;
    if (cache && isProductsPath(path)) {
      if (!SAFE_METHODS.has(method)) {
        // Bump before and after the write so no read in flight across it gets stored.
        cache.invalidate();
        res.once('finish', () => cache.invalidate());
      } else if (method === 'GET' && req.headers.authorization === undefined) {
        const key = req.url ?? path;
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
        await proxy.forward(req, res, (proxyRes) => {
          renameUpstreamCacheHeader(proxyRes);
          cache.capture(key, proxyRes, generation);
        });
        return;
      } else {
        deps.metrics.cache('bypass');
        res.setHeader('X-Cache', 'BYPASS');
        await proxy.forward(req, res, renameUpstreamCacheHeader);
        return;
      }
    }

    await proxy.forward(req, res);
  }

  function fail(req: EdgeRequest, res: ServerResponse, err: unknown) {
    deps.logger.error('edge failure', { err, path: req.url, requestId: req.requestId });
    sendError(req, res, 500, 'INTERNAL_ERROR', 'Internal server error');
  }

  return (request, res) => {
    const url = request.url ?? '/';
    if (!url.startsWith('/api/')) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const upstream = deps.routes.match(path);
    if (!upstream) return false;

    const req = request as EdgeRequest;
    assignRequestIds(req, res);
    observe(req, res, upstream);

    let i = 0;
    const next = (err?: unknown): void => {
      if (err) {
        fail(req, res, err);
        return;
      }
      const middleware = deps.headerMiddleware[i++];
      if (middleware) {
        middleware(req, res, next);
        return;
      }
      handle(req, res, upstream, path).catch((e: unknown) => fail(req, res, e));
    };
    next();
    return true;
  };
}
