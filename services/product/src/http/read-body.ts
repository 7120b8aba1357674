import type { Request } from 'express';
import { readBodyBytes } from '@ecom/common/http';
import {
  ImageEncodingError,
  ImageTooLargeError,
  SEND_AS_IMAGE,
  UnsupportedImageError,
} from '../domain/image-rules';

const JSON_TYPE = 'application/json';

/** No content-coding, or `identity` (which means none). */
function isUncoded(req: Request): boolean {
  const coding = req.headers['content-encoding']?.trim().toLowerCase();
  return !coding || coding === 'identity';
}

/**
 * The raw request body, at most `limit` bytes: a Content-Length over it is refused before
 * anything is read, a chunked body as soon as it passes it. A body some parser already took
 * (JSON), a JSON or multipart one, or one with a content-coding is not an image body.
 */
export async function readImageBody(req: Request, limit: number): Promise<Buffer> {
  if (req.is(JSON_TYPE)) {
    throw new UnsupportedImageError(`${SEND_AS_IMAGE}, not as ${JSON_TYPE}`);
  }
  if (req.is('multipart/form-data')) {
    throw new UnsupportedImageError(`${SEND_AS_IMAGE} as the request body, not as a form`);
  }
  // Refused rather than decoded: the limit and the pixel check apply to the bytes received,
  // and an image format is compressed already.
  if (!isUncoded(req)) throw new ImageEncodingError();
  if (req.body !== undefined || req.readableEnded) throw new UnsupportedImageError();
  return readBodyBytes(req, limit, () => new ImageTooLargeError(limit));
}
