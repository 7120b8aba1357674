import type { IncomingHttpHeaders } from 'node:http';

const IDENTITY_HEADERS = new Set(['x-user-id', 'x-user-role', 'x-user-email']);
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];

export function isIdentityHeader(name: string): boolean {
  return IDENTITY_HEADERS.has(name) || name.startsWith('x-auth-');
}

/**
 * Prepares the headers sent upstream: identity headers a client made up are dropped (the
 * services trust only the JWT, forwarded as is in Authorization), hop-by-hop headers are
 * dropped (the keep-alive agent manages the upstream connection), and the gateway's request
 * and correlation ids are set so one id follows the request through every log.
 */
export function prepareForwardHeaders(
  headers: IncomingHttpHeaders,
  requestId: string | undefined,
  correlationId: string | undefined,
): void {
  for (const name in headers) {
    if (isIdentityHeader(name)) delete headers[name];
  }
  for (const name of HOP_BY_HOP) {
    if (headers[name] !== undefined) delete headers[name];
  }
  if (requestId) headers['x-request-id'] = requestId;
  if (correlationId) headers['x-correlation-id'] = correlationId;
}
