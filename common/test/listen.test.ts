import express from 'express';
import { closeHttpServer, listenHttp, stopOnce } from '../src';

describe('listenHttp / closeHttpServer', () => {
  it('serves on a free port, names a reachable url for a wildcard host, and closes', async () => {
    const app = express();
    app.get('/ping', (_req, res) => res.set('connection', 'close').json({ pong: true }));
    const { server, url } = await listenHttp(app, 0, '0.0.0.0');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url.endsWith(`:${(server.address() as { port: number }).port}`)).toBe(true);
    await expect(fetch(`${url}/ping`).then((r) => r.json())).resolves.toEqual({ pong: true });
    await closeHttpServer(server);
    expect(server.listening).toBe(false);
  });

  it('rejects when the port is taken', async () => {
    const first = await listenHttp(express(), 0, '127.0.0.1');
    const port = Number(new URL(first.url).port);
    await expect(listenHttp(express(), port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
    await closeHttpServer(first.server);
  });
});

describe('stopOnce', () => {
  it('runs the steps in order, skipping undefined results, once however often it is called', async () => {
    const calls: string[] = [];
    const stop = stopOnce(
      async () => void calls.push('server'),
      () => undefined,
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        calls.push('pool');
      },
    );
    const first = stop();
    expect(stop()).toBe(first);
    await first;
    await stop();
    expect(calls).toEqual(['server', 'pool']);
  });

  it('rejects with the first failing step and runs none after it', async () => {
    const calls: string[] = [];
    const stop = stopOnce(
      async () => {
        throw new Error('relay stuck');
      },
      async () => void calls.push('pool'),
    );
    await expect(stop()).rejects.toThrow('relay stuck');
    expect(calls).toEqual([]);
  });
});
