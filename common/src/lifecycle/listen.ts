import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerClientErrors, refuseUnservableRequests } from '../http/client-errors';

export interface Listening {
  server: Server;
  /** Where a client on this machine reaches it: a wildcard host (0.0.0.0, ::) becomes 127.0.0.1. */
  url: string;
}

/**
 * Starts the HTTP server (port 0 picks a free port); rejects when the port cannot be bound.
 * Requests too malformed to reach the app (refused by Node's parser, or let through by it but
 * unservable: HTTP/0.9, no Host, too many headers) are answered in the common error shape.
 */
export async function listenHttp(
  listener: RequestListener,
  port: number,
  host: string,
): Promise<Listening> {
  // Node's own Host check answers a bare 400: refuseUnservableRequests answers instead.
  const server = createServer({ requireHostHeader: false }, refuseUnservableRequests(listener));
  // Idle keep-alive sockets stay open longer than a proxy in front keeps its own (the gateway's
  // agent lets idle sockets go after 60 s): with Node's 5 s, a request sent on a socket the
  // server was closing at that moment failed with a reset (seen as an intermittent 503).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  answerClientErrors(server);
  const { port: bound } = server.address() as AddressInfo;
  const reachable = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    url: `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${bound}`,
  };
}

/**
 * Stops accepting, closes idle keep-alive sockets, resolves once running requests are done;
 * with `forceAfterMs`, connections still open by then are cut.
 */
export function closeHttpServer(server: Server, forceAfterMs?: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer =
      forceAfterMs === undefined
        ? undefined
        : setTimeout(() => server.closeAllConnections(), forceAfterMs).unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
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
