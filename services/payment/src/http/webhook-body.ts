import type { Request } from 'express';
import { AppError } from '@ecom/common/errors';
import { rawJsonBody } from '@ecom/common/http';
import type { WebhookBody } from '../application/webhooks';

/**
 * The most bytes read of a webhook body that is not JSON: the JSON parser's default limit
 * (BODY_LIMIT, 100 KB); a provider's event is a few KB.
 */
export const WEBHOOK_OTHER_BODY_MAX_BYTES = 100 * 1024;

const tooLarge = () => new AppError(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');

/** The bytes of a body the JSON parser left unread, at most `limit` of them (else 413). */
function readBytes(req: Request, limit: number): Promise<Buffer> {
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Listeners rather than an async iterator: leaving one early destroys the socket, and the
    // 413 would never be sent.
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        done();
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

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
  return { json: false, raw: await readBytes(req, limit) };
}
