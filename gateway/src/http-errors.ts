import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from '@ecom/common/errors';

/**
 * Writes an error in the common shape straight onto the response (the proxy path bypasses
 * Express's error handler to stay cheap). Does nothing once headers are out.
 */
export function sendError(
  req: IncomingMessage & { requestId?: string },
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details?: unknown,
  extraHeaders?: Record<string, string>,
): void {
  if (res.headersSent) return;
  const body = JSON.stringify(errorBody(code, message, details, req.requestId));
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (extraHeaders)
    for (const [name, value] of Object.entries(extraHeaders)) res.setHeader(name, value);
  res.end(body);
}
