import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithContext } from '../logging/context';

export const REQUEST_ID_HEADER = 'x-request-id';
export const CORRELATION_ID_HEADER = 'x-correlation-id';

// Accept caller-supplied ids only when they look like ids, so logs cannot be injected into.
const SAFE_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function safeId(value: unknown): string | undefined {
  return typeof value === 'string' && SAFE_ID.test(value) ? value : undefined;
}

/**
 * Gives every request a request id and a correlation id (accepted from the caller or the
 * gateway when well-formed), echoes them in response headers, and runs the rest of the
 * request inside that async context so logs and published events carry them.
 */
export function requestContext(): RequestHandler {
  return (req, res, next) => {
    const requestId = safeId(req.get(REQUEST_ID_HEADER)) ?? randomUUID();
    const correlationId = safeId(req.get(CORRELATION_ID_HEADER)) ?? requestId;
    req.requestId = requestId;
    req.correlationId = correlationId;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    res.setHeader(CORRELATION_ID_HEADER, correlationId);
    runWithContext({ requestId, correlationId }, () => next());
  };
}
