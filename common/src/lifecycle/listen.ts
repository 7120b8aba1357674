import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  server: Server;
  /** Where a client on this machine reaches it: a wildcard host (0.0.0.0, ::) becomes 127.0.0.1. */
  url: string;
}

/** Starts the HTTP server (port 0 picks a free port); rejects when the port cannot be bound. */
export async function listenHttp(
  app: RequestListener & {
    listen: (port: number, host: string, cb: (err?: Error) => void) => Server;
  },
  port: number,
  host: string,
): Promise<Listening> {
  const server = await new Promise<Server>((resolve, reject) => {
    // Express 5 calls back with the error (e.g. EADDRINUSE) instead of only emitting it.
    const s = app.listen(port, host, (err) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  const { port: bound } = server.address() as AddressInfo;
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return { server, url: `http://${reachable}:${bound}` };
}

/** Stops accepting, closes idle keep-alive sockets, resolves once running requests are done. */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * A service's stop(): runs the steps one after another (the first error stops the sequence and
 * rejects), once; later calls return the same promise.
 */
export function stopOnce(...steps: (() => Promise<unknown> | undefined)[]): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      for (const step of steps) await step();
    })();
    return stopping;
  };
}
