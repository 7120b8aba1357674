import { generateEs256KeyPair } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import { createTestMongo, spyOnEvents, type TestMongo } from '@ecom/test-support';
import { authService } from '../src';
import { ADMIN, logger, PASSWORD, testConfig } from './support';

let mongo: TestMongo;
beforeAll(async () => {
  mongo = await createTestMongo('auth_service');
});
afterAll(async () => mongo.cleanup());

async function json(res: Response) {
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('authService.start', () => {
  it('listens on a free port, seeds the admin, serves the API and health, and stops cleanly', async () => {
    const bus = new InMemoryEventBus();
    const seen = await spyOnEvents(bus, ['user.created']);
    const service = await authService.start({ config: testConfig(mongo.url), bus, logger });
    try {
      expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const ready = await json(await fetch(`${service.url}/health/ready`));
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'ok',
        service: 'auth',
        checks: { mongodb: { status: 'up' }, eventBus: { status: 'up' } },
      });

      const reg = await json(
        await fetch(`${service.url}/api/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'http@example.test', password: PASSWORD, name: 'H' }),
        }),
      );
      expect(reg.status).toBe(201);
      const adminLogin = await json(
        await fetch(`${service.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: ADMIN.email, password: ADMIN.password }),
        }),
      );
      expect(adminLogin.status).toBe(200);
      expect((adminLogin.body.user as { role: string }).role).toBe('admin');
      const metrics = await fetch(`${service.url}/metrics`);
      expect(await metrics.text()).toContain('http_requests_total');
      await bus.idle();
      expect(seen.events.map((e) => (e.data as { email: string }).email).sort()).toEqual(
        ['http@example.test', ADMIN.email].sort(),
      );
    } finally {
      await service.stop();
    }
    expect(service.server.listening).toBe(false);
    expect(service.connection.readyState).toBe(0); // MongoDB closed with the service
    await expect(fetch(`${service.url}/health/live`)).rejects.toThrow();
    await service.stop(); // idempotent
    await bus.close();
  });

  it('refuses to start when the private key does not match the public key', async () => {
    const other = generateEs256KeyPair();
    const bus = new InMemoryEventBus();
    await expect(
      authService.start({
        config: { ...testConfig(mongo.url), JWT_PUBLIC_KEY: other.publicKey },
        bus,
        logger,
      }),
    ).rejects.toThrow('JWT_PRIVATE_KEY and the verification key (JWT_PUBLIC_KEY) do not match');
    await bus.close();
  });

  it('reports a port already in use and leaves nothing open', async () => {
    const bus = new InMemoryEventBus();
    const first = await authService.start({ config: testConfig(mongo.url), bus, logger });
    try {
      const port = Number(new URL(first.url).port);
      await expect(
        authService.start({ config: { ...testConfig(mongo.url), PORT: port }, bus, logger }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.stop();
      await bus.close();
    }
  });
});
