import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers some stacks read as "who is calling" (auth proxies such as oauth2-proxy set the
 * x-forwarded-* ones); a client could make any of them up.
 */
const IDENTITY_HEADERS = new Set([
  'x-user',
  'x-userid',
  'x-username',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-forwarded-preferred-username',
  'x-forwarded-access-token',
  'x-remote-user',
  'remote-user',
  'x-authenticated-user',
  'x-authenticated-userid',
]);
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
/** Set by proxies in front; only meaningful when TRUST_PROXY says those proxies are trusted. */
const FORWARDING = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
];

/**
 * `x-user-*` (but `x-user-agent`), `x-auth-*` and the names above, in any case, with `_`
 * spelled for `-` too (some servers treat `X_User_Id` as `X-User-Id`).
 */
export function isIdentityHeader(name: string): boolean {
  const n = name.includes('_') ? name.replace(/_/g, '-') : name;
  if (n.startsWith('x-user-')) return n !== 'x-user-agent'; // client software, not a user
  return n.startsWith('x-auth-') || IDENTITY_HEADERS.has(n);
}

export interface ForwardOptions {
  requestId?: string;
  correlationId?: string;
  /**
   * No proxy in front is trusted (TRUST_PROXY=false): the client's own `Forwarded` and
   * `X-Forwarded-*` are dropped, so the service sees only what the gateway adds.
   */
  dropClientForwarding: boolean;
}

/**
 * Prepares the headers sent upstream: identity headers a client made up are dropped (the
 * services trust only the JWT, forwarded as is in Authorization), hop-by-hop headers are
 * dropped (the keep-alive agent manages the upstream connection), forwarding headers from an
 * untrusted client are dropped (http-proxy then adds the gateway's own), and the gateway's
 * request and correlation ids are set so one id follows the request through every log.
 */
export function prepareForwardHeaders(headers: IncomingHttpHeaders, options: ForwardOptions): void {
  for (const name in headers) {
    if (isIdentityHeader(name)) delete headers[name];
  }
  for (const name of HOP_BY_HOP) {
    if (headers[name] !== undefined) delete headers[name];
  }
  if (options.dropClientForwarding) {
    for (const name of FORWARDING) {
      if (headers[name] !== undefined) delete headers[name];
    }
  }
  if (options.requestId) headers['x-request-id'] = options.requestId;
  if (options.correlationId) headers['x-correlation-id'] = options.correlationId;
}
