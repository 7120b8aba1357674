import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpStub {
  url: string;
  /** Requests received, in order. */
  calls: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/**
 * A real HTTP server on a free loopback port answering with `handle` (a stand-in for another
 * service, where the test is about this one).
 */
export async function startHttpStub(
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
): Promise<HttpStub> {
  const calls: HttpStub['calls'] = [];
  const server = http.createServer((req, res) => {
    calls.push({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers });
    void Promise.resolve(handle(req, res)).catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}
