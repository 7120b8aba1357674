import { createServer, connect, type Server, type Socket } from 'node:net';
import request from 'supertest';
import { InMemoryEventBus } from '@ecom/common/bus';
import { bearer, createTestPostgres, type TestPostgres } from '@ecom/test-support';
import { paymentService, type RunningPaymentService } from '../src/service';
import { STARTUP_TIMEOUT_MS, testConfig } from './support';

/**
 * A TCP proxy in front of PostgreSQL that can be cut: connections dropped, new ones refused,
 * as when the database goes away under the service.
 */
async function startCuttableProxy(target: URL) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: Object.assign(new URL(target.href), { hostname: '127.0.0.1', port: String(port) }).href,
    cut: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

describe('payment service with PostgreSQL gone', () => {
  let db: TestPostgres;
  let proxy: Awaited<ReturnType<typeof startCuttableProxy>>;
  let service: RunningPaymentService;
  const bus = new InMemoryEventBus();

  beforeAll(async () => {
    db = await createTestPostgres('payment_outage');
    proxy = await startCuttableProxy(new URL(db.url));
    service = await paymentService.start({
      config: testConfig(proxy.url),
      bus,
    });
  }, STARTUP_TIMEOUT_MS);
  afterAll(async () => {
    await service?.stop().catch(() => undefined);
    await bus.close();
    await db?.cleanup();
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE and is not ready', async () => {
    const user = { id: 'user-alice', role: 'customer' as const };
    const before = await request(service.app)
      .get('/api/payments')
      .set('Authorization', bearer(user));
    expect(before.status).toBe(200);
    // A connection checked out when the database goes (a transaction between two queries):
    // its error must not end the process.
    const held = await service.pool.connect();
    try {
      await proxy.cut();
      await expect(held.query('SELECT 1')).rejects.toThrow();
    } finally {
      held.release(true);
    }
    const res = await request(service.app).get('/api/payments').set('Authorization', bearer(user));
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE' });
    expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|at \w+ \(/);
    const ready = await request(service.app).get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.postgres.status).toBe('down');
  });
});
