import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_ACCOUNTS } from '../src/demo';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until, untilOrderStatus } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

// The platform exactly as `npm start` runs it on a fresh machine (embedded stores, embedded
// chain, in-memory bus), on its own ports so it can run beside a developer's `npm start`.
const ports = platformPorts(13000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;

jest.setTimeout(180_000);

const api = gatewayClient(gateway);

describe('platform smoke test: the full flow through the gateway', () => {
  let platform: Platform;
  let dataDir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    dataDir = tempDataDir('smoke');
    platform = await startPlatform({
      env: embeddedEnv(dataDir),
      ports,
      print: (line) => lines.push(line),
    });
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints what runs where, the demo accounts and "ready"', () => {
    const out = lines.join('\n');
    expect(out).toMatch(/seeded demo data: \d+ categories, 32 products, \d+ reviews/);
    expect(out).toContain(`gateway`);
    expect(out).toContain(DEMO_ACCOUNTS.admin.email);
    expect(out).toContain(`ready: ${gateway}`);
  });

  it('registers, browses, orders with a card, confirms, cancels with a refund, and reviews', async () => {
    const health = await api<{ status: string }>('GET', '/health');
    expect(health.status).toBe(200);

    const email = `smoke-${Date.now()}@example.com`;
    const reg = await api<{ accessToken: string }>('POST', '/api/auth/register', {
      email,
      password: 'Smoke#test2026',
      name: 'Smoke Tester',
    });
    expect(reg.status).toBe(201);
    const token = reg.body.accessToken;

    const list = await api<{
      items: { id: string; inventory?: number; available?: number }[];
      total: number;
    }>('GET', '/api/products?limit=50');
    expect(list.status).toBe(200);
    expect(list.body.total).toBeGreaterThanOrEqual(30);
    const productId = list.body.items[0]!.id;
    const before = await api<{ inventory: { available: number } }>(
      'GET',
      `/api/products/${productId}`,
    );

    const order = await api<{ id: string; status: string }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId, quantity: 2 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Smoke'),
      },
      token,
    );
    expect(order.status).toBe(201);
    const confirmed = await untilOrderStatus(api, order.body.id, token, 'CONFIRMED');
    expect(confirmed.body.status).toBe('CONFIRMED');
    const after = await api<{ inventory: { available: number } }>(
      'GET',
      `/api/products/${productId}`,
    );
    expect(before.body.inventory.available).toBeGreaterThan(2);
    expect(after.body.inventory.available).toBe(before.body.inventory.available - 2);

    // The order's status changes are anchored on the embedded chain and verify there.
    type Anchors = { records: { status: string; receipt: { txHash: string | null } }[] };
    const anchors = await until(
      () => api<Anchors>('GET', `/api/blockchain/order/${order.body.id}`, undefined, token),
      (r) =>
        r.status === 200 &&
        r.body.records.length >= 3 &&
        r.body.records.every((x) => x.status === 'VERIFIED'),
    );
    expect(anchors.status).toBe(200);
    // The creation, PAYMENT_PROCESSING, CONFIRMED: one chained entry each.
    expect(anchors.body.records.map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED', 'VERIFIED']);
    // The public log answers anyone through the gateway, no token.
    const log = await api<{ anchorer: string; chainId: number }>(
      'GET',
      '/api/blockchain/order/log/info',
    );
    expect(log.status).toBe(200);
    expect(log.body).toMatchObject({ chainId: 31337, anchorer: expect.stringMatching(/^0x/) });
    const txHash = anchors.body.records[1]!.receipt.txHash!;
    expect(txHash).toMatch(/^0x[0-9a-f]{64}$/);
    const verified = await api<Anchors & { service: string }>(
      'GET',
      `/api/blockchain/verify/${txHash}`,
      undefined,
      token,
    );
    expect(verified.status).toBe(200);
    expect(verified.body.service).toBe('order'); // answered by payment, which asked order
    expect(verified.body.records.length).toBeGreaterThan(0);
    expect(verified.body.records.every((r) => r.status === 'VERIFIED')).toBe(true);

    const cancel = await api('PUT', `/api/orders/${order.body.id}/cancel`, {}, token);
    expect(cancel.status).toBe(200);
    const restocked = await until(
      () => api<{ inventory: { available: number } }>('GET', `/api/products/${productId}`),
      (r) => r.body.inventory.available === before.body.inventory.available,
    );
    expect(restocked.body.inventory.available).toBe(before.body.inventory.available);

    const review = await api(
      'POST',
      '/api/comments',
      { productId, rating: 4, text: 'Solid.' },
      token,
    );
    expect(review.status).toBe(201);
  });

  it("runs the README's curl walkthrough (docs/walkthrough.sh) as written", async () => {
    const script = path.resolve(__dirname, '../../docs/walkthrough.sh');
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        'bash',
        [script],
        { env: { ...process.env, API: gateway }, timeout: 60_000 },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(output).toContain('order is CONFIRMED');
    expect(output).toMatch(/PENDING -> PAYMENT_PROCESSING -> CONFIRMED/);
    expect(output).toContain('CANCELLED');
    expect(output).toContain('cart order is CONFIRMED');
    expect(output).toMatch(/\/api\/products\/[0-9a-f]{24}\/images\/[0-9a-f]{32}\/thumb/);
    expect(output.trim().split('\n').at(-1)).toBe('walkthrough complete');
  });

  it('rejects an order paid with a declined card and puts the stock back', async () => {
    const login = await api<{ accessToken: string }>('POST', '/api/auth/login', {
      email: DEMO_ACCOUNTS.customer.email,
      password: DEMO_ACCOUNTS.customer.password,
    });
    expect(login.status).toBe(200);
    const list = await api<{ items: { id: string }[] }>('GET', '/api/products?limit=5');
    const productId = list.body.items[1]!.id;
    const before = await api<{ inventory: { available: number } }>(
      'GET',
      `/api/products/${productId}`,
    );
    const order = await api<{ id: string }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId, quantity: 1 }],
        payment: { method: 'card', token: 'tok_chargeDeclined' },
        shippingAddress: testAddress('Smoke'),
      },
      login.body.accessToken,
    );
    expect(order.status).toBe(201);
    const failed = await untilOrderStatus(api, order.body.id, login.body.accessToken, 'FAILED');
    expect(failed.body.status).toBe('FAILED');
    const after = await until(
      () => api<{ inventory: { available: number } }>('GET', `/api/products/${productId}`),
      (r) => r.body.inventory.available === before.body.inventory.available,
    );
    expect(before.body.inventory.available).toBeGreaterThan(0);
    expect(after.body.inventory.available).toBe(before.body.inventory.available);
  });
});
