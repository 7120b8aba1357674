import type { Request } from 'express';

/**
 * The bytes of a request body no parser took, at most `limit` of them: a Content-Length over
 * it is refused before anything is read, a chunked body as soon as it passes it; `tooLarge`
 * makes the error (a route's own 413). For routes that read bytes themselves (an image, a
 * signed webhook).
 */
export function readBodyBytes(req: Request, limit: number, tooLarge: () => Error): Promise<Buffer> {
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
