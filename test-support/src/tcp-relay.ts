import net from 'node:net';

export interface TcpRelay {
  /** `host:port` to connect to instead of the target. */
  address: string;
  port: number;
  /** `url` (the target's own URL, any scheme) pointed at the relay instead. */
  relayed(url: string): string;
  /** Drops every open connection and refuses new ones, as a store that went away. */
  cut(): void;
  /** Lets connections through again. */
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP relay in front of a real server (PostgreSQL, MongoDB, Redis), so a test can make the
 * server vanish for the client without stopping it for every other test.
 */
export async function startTcpRelay(targetHost: string, targetPort: number): Promise<TcpRelay>;
/** A relay in front of the server a URL names (`postgres://...`, `mongodb://...`). */
export async function startTcpRelay(url: string): Promise<TcpRelay>;
export async function startTcpRelay(target: string, targetPort?: number): Promise<TcpRelay> {
  let targetHost = target;
  if (targetPort === undefined) {
    const u = new URL(target);
    targetHost = u.hostname;
    targetPort = Number(u.port);
  }
  const port0 = targetPort;
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port0, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    port,
    relayed(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      cut = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        cut = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
