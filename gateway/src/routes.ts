import { isPublicAccess, type ApiSpec, type RateLimitBucket } from '@ecom/common/http';
import type { GatewayConfig } from './config';

/** A service the gateway routes to: its API spec's `service` ('order'). */
export type UpstreamName = string;

/** Rate-limit budget a request is charged to (one decision per request). */
export type Bucket = RateLimitBucket;

/** The replicas' base URLs of each upstream: `<NAME>_SERVICE_URL` of the configuration. */
export function upstreamUrls(
  config: GatewayConfig,
  apis: readonly ApiSpec[],
): Record<UpstreamName, readonly string[]> {
  const byName = config as unknown as Record<string, unknown>;
  return Object.fromEntries(
    apis.map((api) => {
      const variable = `${api.service.toUpperCase()}_SERVICE_URL`;
      const url = byName[variable];
      if (!Array.isArray(url) || url.length === 0) throw new Error(`${variable} is not configured`);
      return [api.service, url];
    }),
  );
}

interface CompiledOperation {
  method: string;
  pattern: RegExp;
  /** Static segments count: more specific operations are tried first. */
  staticSegments: number;
  isPublic: boolean;
  bucket: Bucket;
  maxBodyBytes?: number;
}

/** '/api/orders/:id' → /^\/api\/orders\/[^/]+$/ (paths are compared as routingKey gives them). */
function compile(path: string): RegExp {
  const source = path
    .toLowerCase()
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

export interface RouteTable {
  /** The upstreams, by their API's service name. */
  readonly upstreams: readonly UpstreamName[];
  /** The service owning the path's prefix (longest prefix wins), if any. */
  match(path: string): UpstreamName | undefined;
  /** Whether the operation at (method, path) needs no token at the edge. Unknown routes do. */
  isPublic(method: string, path: string): boolean;
  bucketFor(method: string, path: string): Bucket;
  /** The operation's own body limit (an upload), when it declares one. */
  bodyLimitFor(method: string, path: string): number | undefined;
}

/**
 * The gateway's routing, public-route rule and rate-limit buckets, all read from the services'
 * API specs: a route a service declares is routed, guarded and documented here with no
 * gateway edit. Internal operations (service port only) are not routed.
 */
export function createRouteTable(apis: readonly ApiSpec[]): RouteTable {
  const prefixes = apis
    .flatMap((api) =>
      api.prefixes.map((prefix) => ({ prefix: prefix.toLowerCase(), upstream: api.service })),
    )
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const operations: CompiledOperation[] = apis
    .flatMap((api) => Object.values(api.operations))
    .filter((op) => !op.internal)
    .map((op) => ({
      method: op.method.toUpperCase(),
      pattern: compile(op.path),
      staticSegments: op.path.split('/').filter((s) => s && !s.startsWith(':')).length,
      isPublic: isPublicAccess(op.access),
      bucket: op.rateLimit ?? 'default',
      maxBodyBytes: op.rawBody?.maxBytes,
    }))
    .sort((a, b) => b.staticSegments - a.staticSegments);

  function find(method: string, path: string): CompiledOperation | undefined {
    const m = method === 'HEAD' ? 'GET' : method;
    const key = routingKey(path);
    return operations.find((op) => op.method === m && op.pattern.test(key));
  }

  return {
    upstreams: apis.map((api) => api.service),
    match(path) {
      const p = path.toLowerCase();
      for (const { prefix, upstream } of prefixes) {
        if (
          p.startsWith(prefix) &&
          (p.length === prefix.length || p.charCodeAt(prefix.length) === 47)
        ) {
          return upstream;
        }
      }
      return undefined;
    },
    isPublic: (method, path) => find(method, path)?.isPublic ?? false,
    bucketFor: (method, path) => find(method, path)?.bucket ?? 'default',
    bodyLimitFor: (method, path) => find(method, path)?.maxBodyBytes,
  };
}

/**
 * The path as the service will route it, for the public / bucket decisions: the services'
 * Express routers match case-insensitively and ignore a trailing slash, and http-proxy collapses
 * repeated slashes on the way, so `/api/auth//Login/` reaches the login handler and must be
 * charged and checked as `/api/auth/login`. (Percent-encoded letters are not decoded by Express
 * for matching, so they need no folding here: `/api/auth/%6Cogin` is a 404 at the service.)
 */
export function routingKey(path: string): string {
  let p = path.toLowerCase();
  if (p.includes('//')) p = p.replace(/\/{2,}/g, '/');
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * `..` or `.` segments are refused rather than normalised, whether the dots or the separators
 * around them are raw or percent-encoded (`%2e`, `%2f`) or the separator is a backslash.
 */
export function hasDotSegment(path: string): boolean {
  return /(^|\/|\\|%2f|%5c)(\.|%2e){1,2}(\/|\\|%2f|%5c|$)/i.test(path);
}

/**
 * A raw `#` anywhere in the request target (a fragment is never sent; a service's URL parser
 * would cut the path there and route something other than what the edge checked), or a raw
 * backslash in the path (which that parser turns into `/`). Encoded, they are just data.
 */
export function hasForbiddenCharacter(url: string): boolean {
  if (url.includes('#')) return true;
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)).includes('\\');
}

/**
 * A path whose percent-encoding does not decode to UTF-8 (`%ff`, a lone `%`): no service could
 * decode its parameters, so it is refused at the edge as the services refuse it.
 */
export function hasMalformedEncoding(path: string): boolean {
  if (!path.includes('%')) return false;
  try {
    decodeURIComponent(path);
    return false;
  } catch {
    return true;
  }
}
