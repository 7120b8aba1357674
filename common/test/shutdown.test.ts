import express from 'express';
import type { AddressInfo } from 'node:net';
import { gracefulShutdown } from '../src/lifecycle';
import { createLogger } from '../src/logging';

const logger = createLogger('test', 'silent');

describe('graceful shutdown', () => {
  it('lets in-flight requests finish, refuses new connections, closes steps in order, exits 0', async () => {
    const app = express();
    // The request in flight ends when the test says so, not after a delay a busy machine outruns.
    let arrived!: () => void;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    app.get('/slow', (_req, res) => {
      arrived();
      void released.then(() => res.json({ done: true }));
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const order: string[] = [];
    const exit = jest.fn();
    const shutdown = gracefulShutdown({
      server,
      logger,
      exit,
      steps: [
        { name: 'bus', close: async () => void order.push('bus') },
        { name: 'db', close: () => void order.push('db') },
      ],
    });

    const inFlight = fetch(`${url}/slow`).then((r) => r.json());
    await arrival;
    const done = shutdown('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(fetch(`${url}/slow`)).rejects.toThrow();
    expect(order).toEqual([]);
    release();
    await expect(inFlight).resolves.toEqual({ done: true });
    await done;
    expect(order).toEqual(['bus', 'db']);
    expect(exit).toHaveBeenCalledWith(0);
    expect(shutdown('SIGINT')).toBe(done);
  });

  it('exits 1 when a step fails but still closes the others', async () => {
    const exit = jest.fn();
    const closed: string[] = [];
    await gracefulShutdown({
      logger,
      exit,
      steps: [
        {
          name: 'bus',
          close: () => {
            throw new Error('x');
          },
        },
        { name: 'db', close: () => void closed.push('db') },
      ],
    })();
    expect(closed).toEqual(['db']);
    expect(exit).toHaveBeenCalledWith(1);
  });
});
