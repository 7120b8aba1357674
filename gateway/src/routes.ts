import type { GatewayConfig } from './config';

export type UpstreamName = 'auth' | 'product' | 'comments' | 'payment' | 'order';

export const UPSTREAMS: readonly UpstreamName[] = [
  'auth',
  'product',
  'comments',
  'payment',
  'order',
];

export function upstreamUrls(config: GatewayConfig): Record<UpstreamName, string> {
  return {
    auth: config.AUTH_SERVICE_URL,
    product: config.PRODUCT_SERVICE_URL,
    comments: config.COMMENTS_SERVICE_URL,
    payment: config.PAYMENT_SERVICE_URL,
    order: config.ORDER_SERVICE_URL,
  };
}

/** Rate-limit budget a request is charged to (one decision per request). */
export type Bucket = 'default' | 'auth' | 'payment';

interface RouteEntry {
  prefix: string;
  upstream: UpstreamName;
}

/**
 * Path prefix → service. Longest prefixes first so `/api/blockchain/payment` wins over any
 * shorter entry. Paths are forwarded unchanged (services mount their routes under `/api/...`).
 */
export const ROUTES: readonly RouteEntry[] = [
  { prefix: '/api/blockchain/payment', upstream: 'payment' },
  { prefix: '/api/blockchain/verify', upstream: 'payment' },
  { prefix: '/api/blockchain/order', upstream: 'order' },
  { prefix: '/api/auth', upstream: 'auth' },
  { prefix: '/api/users', upstream: 'auth' },
  { prefix: '/api/products', upstream: 'product' },
  { prefix: '/api/comments', upstream: 'comments' },
  { prefix: '/api/payments', upstream: 'payment' },
  { prefix: '/api/orders', upstream: 'order' },
];

export function matchRoute(path: string): UpstreamName | undefined {
  for (const route of ROUTES) {
    if (
      path.startsWith(route.prefix) &&
      (path.length === route.prefix.length || path.charCodeAt(route.prefix.length) === 47) // '/'
    ) {
      return route.upstream;
    }
  }
  return undefined;
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
 * Logout needs only the refresh token it revokes (the auth service checks it): a client whose
 * access token has expired must still be able to sign out. Still rate limited per IP.
 */
const PUBLIC_AUTH_POSTS = new Set([
  '/api/auth/register',
  '/api/auth/login',
  '/api/auth/refresh',
  '/api/auth/logout',
]);

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * Routes that pass the edge without a token: account creation, sign-in and sign-out, the public
 * catalogue and review reads. Everything else needs a valid access token.
 */
export function isPublicRoute(method: string, path: string): boolean {
  const p = routingKey(path);
  if (method === 'POST') return PUBLIC_AUTH_POSTS.has(p);
  if (method === 'GET' || method === 'HEAD') {
    // The moderation queue is an admin read, not a public one.
    if (under(p, '/api/comments/moderation')) return false;
    return under(p, '/api/products') || under(p, '/api/comments');
  }
  return false;
}

export function bucketFor(method: string, path: string): Bucket {
  const p = routingKey(path);
  if (method === 'POST' && (p === '/api/auth/login' || p === '/api/auth/register')) return 'auth';
  if (under(p, '/api/payments')) return 'payment';
  return 'default';
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
