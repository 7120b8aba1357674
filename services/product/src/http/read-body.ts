import type { Request } from 'express';
import { ImageTooLargeError, UnsupportedImageError } from '../domain/image-rules';

/**
 * The raw request body, at most `limit` bytes: a Content-Length over it is refused before
 * anything is read, a chunked body as soon as it passes it. A body some parser already took
 * (JSON) or a multipart form is not an image body.
 */
export async function readImageBody(req: Request, limit: number): Promise<Buffer> {
  if (req.is('multipart/form-data')) {
    throw new UnsupportedImageError('Send the image bytes as the request body, not as a form');
  }
  if (req.body !== undefined || req.readableEnded) throw new UnsupportedImageError();
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw new ImageTooLargeError(limit);
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
        reject(new ImageTooLargeError(limit));
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
