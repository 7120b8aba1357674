import type { Request } from 'express';
import { AppError } from '@ecom/common/errors';
import { rawJsonBody, readBodyBytes } from '@ecom/common/http';
import type { WebhookBody } from '../application/webhooks';

/**
 * The most bytes read of a webhook body that is not JSON: the JSON parser's default limit
 * (BODY_LIMIT, 100 KB); a provider's event is a few KB.
 */
export const WEBHOOK_OTHER_BODY_MAX_BYTES = 100 * 1024;

const tooLarge = () => new AppError(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');

/**
 * The webhook's body for its signature check: a JSON body as the service's parser read it (its
 * bytes kept, never re-serialised), or else the bytes as sent. Those are read too, rather than
 * refused for their type (415) before the sender is known: the signature decides first, and a
 * signed body of another type is then WEBHOOK_MALFORMED like any other shape problem.
 */
export async function webhookBody(
  req: Request,
  limit = WEBHOOK_OTHER_BODY_MAX_BYTES,
): Promise<WebhookBody> {
  const raw = rawJsonBody(req);
  if (raw) return { json: true, raw, value: req.body as unknown };
  return { json: false, raw: await readBodyBytes(req, limit, tooLarge) };
}
