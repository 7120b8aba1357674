import fs from 'node:fs';
import path from 'node:path';
import { DEMO_ACCOUNTS } from '../src/demo';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, untilOrderStatus } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir } from './support';

// A newcomer's first runs: their own admin on a fresh data directory, restarts, a seed that
// cannot work, and the original brief's curl examples sent unchanged.
const ports = platformPorts(15000);
const api = gatewayClient(`http://127.0.0.1:${ports.services.gateway}`);

jest.setTimeout(240_000);

const OWN_ADMIN = { email: 'me@shop.test', password: 'my own admin passphrase' };

describe('first run with your own admin', () => {
  let platform: Platform | undefined;
  let dataDir: string;
  let printed: string[] = [];

  const start = async (extra: NodeJS.ProcessEnv, seed?: boolean) => {
    printed = [];
    platform = await startPlatform({
      env: embeddedEnv(dataDir, extra),
      ports,
      seed,
      print: (line) => printed.push(line),
    });
  };
  const stop = async () => {
    await platform?.stop();
    platform = undefined;
  };
  const login = (email: string, password: string) =>
    api<{ accessToken: string; user: { role: string } }>('POST', '/api/auth/login', {
      email,
      password,
    });

  beforeAll(() => {
    dataDir = tempDataDir('first-run');
  });

  afterAll(async () => {
    await stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts on a fresh data directory with ADMIN_EMAIL/ADMIN_PASSWORD, seeds, and that admin signs in', async () => {
    await start({ ADMIN_EMAIL: OWN_ADMIN.email, ADMIN_PASSWORD: OWN_ADMIN.password });
    const out = printed.join('\n');
    expect(out).toMatch(/seeded demo data: \d+ categories, 32 products/);
    expect(out).toContain(`admin    ${OWN_ADMIN.email} / (your ADMIN_PASSWORD)`);
    expect(out).not.toContain(OWN_ADMIN.password);
    const admin = await login(OWN_ADMIN.email, OWN_ADMIN.password);
    expect(admin.status).toBe(200);
    expect(admin.body.user.role).toBe('admin');
    // The demo admin was never created: only the configured one exists.
    expect((await login(DEMO_ACCOUNTS.admin.email, DEMO_ACCOUNTS.admin.password)).status).toBe(401);
    // The demo seller was promoted by the configured admin and created the products.
    const seller = await login(DEMO_ACCOUNTS.seller.email, DEMO_ACCOUNTS.seller.password);
    expect(seller.body.user.role).toBe('seller');
  });

  it('restarts, re-seeding with a changed admin password, without ever locking the admin; the sessions the change ended stay ended', async () => {
    const { body } = await login(OWN_ADMIN.email, OWN_ADMIN.password);
    const other = (await login(OWN_ADMIN.email, OWN_ADMIN.password)).body.accessToken;
    const verify = async (token: string) =>
      (await api('GET', '/api/auth/verify', undefined, token)).status;
    expect(await verify(other)).toBe(200);
    const changed = await api(
      'PUT',
      '/api/auth/password',
      { currentPassword: OWN_ADMIN.password, newPassword: 'a newer admin passphrase' },
      body.accessToken,
    );
    expect(changed.status).toBe(200);
    expect(await verify(other)).toBe(401);
    await stop();
    // ADMIN_PASSWORD still holds the first password; the seed runs again each time (forced),
    // more often than the login throttling allows failures. It never signs in with a password.
    const env = { ADMIN_EMAIL: OWN_ADMIN.email, ADMIN_PASSWORD: OWN_ADMIN.password };
    for (let i = 0; i < 5; i += 1) {
      await start(env, true);
      expect(printed.join('\n')).toContain('seeded demo data: already present');
      await stop();
    }
    await start(env);
    // Without Redis the list is the process's, kept in the data directory: still refused.
    expect(await verify(other)).toBe(401);
    const admin = await login(OWN_ADMIN.email, 'a newer admin passphrase');
    expect(admin.status).toBe(200);
    expect(admin.body.user.role).toBe('admin');
    expect(await verify(admin.body.accessToken)).toBe(200);
    await stop();
  });

  it('reports a seed that cannot work and starts anyway (ADMIN_EMAIL of a customer)', async () => {
    fs.rmSync(path.join(dataDir, 'seeded'));
    await start({
      ADMIN_EMAIL: DEMO_ACCOUNTS.customer.email,
      ADMIN_PASSWORD: 'whatever passphrase',
    });
    const out = printed.join('\n');
    expect(out).toContain(
      `demo data not seeded (the next start tries again): ${DEMO_ACCOUNTS.customer.email} is not an admin account`,
    );
    expect(out).toMatch(/^ready: /m);
    expect(fs.existsSync(path.join(dataDir, 'seeded'))).toBe(false);
    expect((await api('GET', '/health')).status).toBe(200);
    // The customer's account is untouched and not locked.
    const customer = await login(DEMO_ACCOUNTS.customer.email, DEMO_ACCOUNTS.customer.password);
    expect(customer.status).toBe(200);
    expect(customer.body.user.role).toBe('customer');
    await stop();
  });
});

describe("the original brief's curl examples, unchanged, against a fresh platform", () => {
  let platform: Platform;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDataDir('brief');
    platform = await startPlatform({
      env: embeddedEnv(dataDir),
      ports: platformPorts(16000),
      print: () => undefined,
    });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const brief = gatewayClient(`http://127.0.0.1:16000`);

  it('registers, logs in, creates a product as admin and orders it with items only', async () => {
    // 1. User registration and login
    const registered = await brief<{ accessToken: string }>('POST', '/api/auth/register', {
      email: 'user@example.com',
      password: 'securepassword',
      name: 'John Doe',
    });
    expect(registered.status).toBe(201);
    const login = await brief<{ accessToken: string }>('POST', '/api/auth/login', {
      email: 'user@example.com',
      password: 'securepassword',
    });
    expect(login.status).toBe(200);
    const token = login.body.accessToken;

    // 2. Create product (admin)
    const admin = await brief<{ accessToken: string }>('POST', '/api/auth/login', {
      email: DEMO_ACCOUNTS.admin.email,
      password: DEMO_ACCOUNTS.admin.password,
    });
    const product = await brief<{ id: string; price: number; inventory: { available: number } }>(
      'POST',
      '/api/products',
      {
        name: 'Laptop',
        description: 'High-performance laptop',
        price: 1299.99,
        inventory: 50,
        category: 'electronics',
      },
      admin.body.accessToken,
    );
    expect(product.status).toBe(201);
    expect(product.body.inventory.available).toBe(50);

    // The customer's profile holds an address (the brief's order sends none).
    const profile = await brief(
      'PUT',
      '/api/auth/profile',
      { address: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' } },
      token,
    );
    expect(profile.status).toBe(200);

    // 3. Complete order flow: the body exactly as the brief shows it.
    const order = await brief<{ id: string; shippingAddress: Record<string, string> }>(
      'POST',
      '/api/orders',
      { items: [{ productId: product.body.id, quantity: 2 }] },
      token,
    );
    expect(order.status).toBe(201);
    expect(order.body.shippingAddress).toMatchObject({ name: 'John Doe', line1: '1 Main St' });
    // No payment details: reserved and waiting for the customer to pay.
    const waiting = await untilOrderStatus(brief, order.body.id, token, 'AWAITING_PAYMENT');
    expect(waiting.body.status).toBe('AWAITING_PAYMENT');
    const paid = await brief(
      'POST',
      '/api/payments/initiate',
      { orderId: order.body.id, payment: { method: 'card', token: 'tok_visa' } },
      token,
    );
    expect(paid.status).toBeLessThan(300);
    const confirmed = await untilOrderStatus(brief, order.body.id, token, 'CONFIRMED');
    expect(confirmed.body.status).toBe('CONFIRMED');
  });

  it("refuses the quick start's breached password with a reason, and an order with no address anywhere with 422", async () => {
    const weak = await brief<{ error: { message: string } }>('POST', '/api/auth/register', {
      email: 'weak@example.com',
      password: 'password123',
      name: 'Weak',
    });
    expect(weak.status).toBe(400);
    expect(weak.body.error.message).toContain('too common');
    const reg = await brief<{ accessToken: string }>('POST', '/api/auth/register', {
      email: 'noaddress@example.com',
      password: 'no address on file',
      name: 'No Address',
    });
    const products = await brief<{ items: { id: string }[] }>('GET', '/api/products?limit=1');
    const order = await brief<{ error: { code: string } }>(
      'POST',
      '/api/orders',
      { items: [{ productId: products.body.items[0]!.id, quantity: 1 }] },
      reg.body.accessToken,
    );
    expect(order.status).toBe(422);
    expect(order.body.error.code).toBe('SHIPPING_ADDRESS_REQUIRED');
  });
});

describe('a production installation', () => {
  let dataDir: string;
  let platform: Platform | undefined;

  beforeAll(() => {
    dataDir = tempDataDir('production');
  });
  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses to start without its own admin: the demo admin has a published password', async () => {
    await expect(
      startPlatform({
        env: embeddedEnv(dataDir, { NODE_ENV: 'production' }),
        ports,
        print: () => undefined,
      }),
    ).rejects.toThrow(/NODE_ENV=production needs ADMIN_EMAIL and ADMIN_PASSWORD/);
  });

  it('starts with its own admin and creates no demo account or demo data', async () => {
    const printed: string[] = [];
    platform = await startPlatform({
      env: embeddedEnv(dataDir, {
        NODE_ENV: 'production',
        BCRYPT_ROUNDS: '10',
        ADMIN_EMAIL: OWN_ADMIN.email,
        ADMIN_PASSWORD: OWN_ADMIN.password,
      }),
      ports,
      print: (line) => printed.push(line),
    });
    const out = printed.join('\n');
    for (const account of Object.values(DEMO_ACCOUNTS)) {
      expect(out).not.toContain(account.password);
      const login = await api('POST', '/api/auth/login', {
        email: account.email,
        password: account.password,
      });
      expect(login.status).toBe(401);
    }
    expect(out).toContain('production: no demo accounts or demo data');
    // The data directory (stores, keys, journals) is the owner's alone.
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    const products = await api<{ total: number }>('GET', '/api/products');
    expect(products.body.total).toBe(0);
    const admin = await api('POST', '/api/auth/login', OWN_ADMIN);
    expect(admin.status).toBe(200);
  });
});
