import fs from 'node:fs';
import { Redis } from 'ioredis';
import { describeIfServer, eventually } from '@ecom/test-support';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

// Access tokens end with their session, everywhere at once: logout, logout-all, a password
// change, a role change and an account's deletion refuse the old tokens at the gateway and at
// each service's own port from the next request, not when the token expires. Once with the
// one-process list (npm start without Redis), once with the list in Redis.

jest.setTimeout(240_000);

const ADMIN = { email: 'root@revocation.test', password: 'Revocation admin 2026' };
const PASSWORD = 'Revocation#user2026';

type Api = ReturnType<typeof gatewayClient>;
interface SessionBody {
  accessToken: string;
  refreshToken: string;
  user: { id: string; role: string };
}

function revocationSuite(ports: ReturnType<typeof platformPorts>, env: () => NodeJS.ProcessEnv) {
  const api: Api = gatewayClient(`http://127.0.0.1:${ports.services.gateway}`);
  const direct = (service: keyof typeof ports.services) =>
    gatewayClient(`http://127.0.0.1:${ports.services[service]}`);
  let platform: Platform;
  let dataDir: string;
  let admin: string;
  let productId: string;

  const register = async (label: string) => {
    const email = `${label}-${Date.now()}@revocation.test`;
    const res = await api<SessionBody>('POST', '/api/auth/register', {
      email,
      password: PASSWORD,
      name: 'Revocation Tester',
    });
    expect(res.status).toBe(201);
    return { ...res.body, email };
  };
  const login = async (email: string, password = PASSWORD) => {
    const res = await api<SessionBody>('POST', '/api/auth/login', { email, password });
    expect(res.status).toBe(200);
    return res.body;
  };
  const placeOrder = (token: string) =>
    api(
      'POST',
      '/api/orders',
      {
        items: [{ productId, quantity: 1 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Revocation'),
      },
      token,
    );
  /** Refused as revoked through the gateway and at the service's own port. */
  const expectRevoked = async (
    token: string,
    service: 'order' | 'product' | 'auth',
    path: string,
  ) => {
    const viaGateway = await api<{ error: { details: unknown } }>('GET', path, undefined, token);
    expect(viaGateway.status).toBe(401);
    expect(viaGateway.body.error.details).toEqual({ reason: 'revoked' });
    const atService = await direct(service)<{ error: { details: unknown } }>(
      'GET',
      path,
      undefined,
      token,
    );
    expect(atService.status).toBe(401);
    expect(atService.body.error.details).toEqual({ reason: 'revoked' });
  };

  beforeAll(async () => {
    dataDir = tempDataDir('revocation');
    platform = await startPlatform({
      env: embeddedEnv(dataDir, {
        ...env(),
        ADMIN_EMAIL: ADMIN.email,
        ADMIN_PASSWORD: ADMIN.password,
        RATE_LIMIT_AUTH_POINTS: '100000',
        RATE_LIMIT_POINTS: '100000',
      }),
      ports,
      print: () => undefined,
    });
    admin = (await login(ADMIN.email, ADMIN.password)).accessToken;
    const list = await api<{ items: { id: string }[] }>(
      'GET',
      '/api/products?inStock=true&limit=1',
    );
    productId = list.body.items[0]!.id;
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('logout ends that session only', async () => {
    const first = await register('logout');
    const second = await login(first.email);
    expect(
      (await api('POST', '/api/auth/logout', { refreshToken: first.refreshToken })).status,
    ).toBe(204);
    await expectRevoked(first.accessToken, 'order', '/api/orders');
    expect((await api('GET', '/api/orders', undefined, second.accessToken)).status).toBe(200);
  });

  it('logout-all and a password change end every other session', async () => {
    const one = await register('all');
    const two = await login(one.email);
    const changed = await api<SessionBody>(
      'PUT',
      '/api/auth/password',
      {
        currentPassword: PASSWORD,
        newPassword: `${PASSWORD}-new`,
      },
      two.accessToken,
    );
    expect(changed.status).toBe(200);
    await expectRevoked(one.accessToken, 'auth', '/api/auth/profile');
    await expectRevoked(two.accessToken, 'auth', '/api/auth/profile');
    // The session the change started works, until logout-all ends it too.
    const current = changed.body.accessToken;
    expect((await api('GET', '/api/orders', undefined, current)).status).toBe(200);
    expect((await api('POST', '/api/auth/logout-all', undefined, current)).status).toBe(200);
    await expectRevoked(current, 'order', '/api/orders');
  });

  it('a seller demoted to customer cannot sell with the old token', async () => {
    const seller = await register('demoted');
    const promoted = await api(
      'PUT',
      `/api/users/${seller.user.id}/role`,
      { role: 'seller' },
      admin,
    );
    expect(promoted.status).toBe(200);
    // The promotion ended the customer session too: the new role comes with a new login.
    await expectRevoked(seller.accessToken, 'auth', '/api/auth/profile');
    const sellerToken = (await login(seller.email)).accessToken;
    const product = { name: 'Revoked widget', price: 5, inventory: 3 };
    expect((await api('POST', '/api/products', product, sellerToken)).status).toBe(201);
    const demoted = await api(
      'PUT',
      `/api/users/${seller.user.id}/role`,
      { role: 'customer' },
      admin,
    );
    expect(demoted.status).toBe(200);
    const again = await api(
      'POST',
      '/api/products',
      { ...product, name: 'After demotion' },
      sellerToken,
    );
    expect(again.status).toBe(401);
    const atProduct = await direct('product')(
      'POST',
      '/api/products',
      { ...product, name: 'Straight to product' },
      sellerToken,
    );
    expect(atProduct.status).toBe(401);
    await expectRevoked(sellerToken, 'auth', '/api/auth/profile');
    const mine = await api<{ items: { name: string }[] }>(
      'GET',
      '/api/products?limit=100&q=widget',
    );
    expect(mine.body.items.map((p) => p.name)).not.toContain('After demotion');
  });

  it('a deleted account places no order with its old token', async () => {
    const doomed = await register('deleted');
    expect((await placeOrder(doomed.accessToken)).status).toBe(201);
    expect((await api('DELETE', `/api/users/${doomed.user.id}`, undefined, admin)).status).toBe(
      204,
    );
    const after = await placeOrder(doomed.accessToken);
    expect(after.status).toBe(401);
    const orders = await api<{ items: { userId: string }[] }>(
      'GET',
      `/api/orders?userId=${doomed.user.id}`,
      undefined,
      admin,
    );
    expect(orders.body.items).toHaveLength(1);
    await expectRevoked(doomed.accessToken, 'order', '/api/orders');
  });
}

describe('revocation with the one-process list (no Redis)', () => {
  revocationSuite(platformPorts(19000), () => ({}));
});

describeIfServer('redis', 'revocation with the list in Redis', (redisUrl) => {
  const prefix = `revocation${process.pid}`;
  const ports = platformPorts(20000);
  revocationSuite(ports, () => ({
    REDIS_URL: redisUrl,
    EVENT_BUS: 'memory',
    EVENT_BUS_PREFIX: prefix,
  }));

  // Last: every token issued before the loss is refused from then on, the admin's too.
  it('a Redis that loses the list (restarted empty) brings no ended session back', async () => {
    const api = gatewayClient(`http://127.0.0.1:${ports.services.gateway}`);
    const order = gatewayClient(`http://127.0.0.1:${ports.services.order}`);
    const email = `lost-${Date.now()}@revocation.test`;
    const registered = await api<SessionBody>('POST', '/api/auth/register', {
      email,
      password: PASSWORD,
      name: 'Revocation Tester',
    });
    expect(registered.status).toBe(201);
    const ended = registered.body.accessToken;
    expect(
      (await api('POST', '/api/auth/logout', { refreshToken: registered.body.refreshToken }, ended))
        .status,
    ).toBe(204);
    expect((await api('GET', '/api/orders', undefined, ended)).status).toBe(401);
    // Tokens carry whole seconds: the list's new mark must come in a later one.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const redis = new Redis(redisUrl);
    try {
      const keys = await redis.keys(`${prefix}:auth:*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
    // Auth marks the list again within seconds; from then on the ended session stays ended,
    // at the gateway and at each service.
    await eventually(
      async () => (await api('GET', '/api/orders', undefined, ended)).status === 401,
      { timeoutMs: 15_000, what: 'the ended session refused again' },
    );
    const atOrder = await order<{ error: { details: unknown } }>(
      'GET',
      '/api/orders',
      undefined,
      ended,
    );
    expect(atOrder.status).toBe(401);
    // Older than the list: the client refreshes (an ended session cannot, a live one can).
    expect(atOrder.body.error.details).toEqual({ reason: 'stale' });
    // A client whose session did not end refreshes or signs in again, and goes on.
    const again = await api<SessionBody>('POST', '/api/auth/login', { email, password: PASSWORD });
    expect(again.status).toBe(200);
    expect((await api('GET', '/api/orders', undefined, again.body.accessToken)).status).toBe(200);
  });
});
