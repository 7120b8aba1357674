import fs from 'node:fs';
import { DEMO_ACCOUNTS } from '../src/demo';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

// Issue 9's restart rule for anchoring: the embedded chain keeps nothing across restarts, the
// services' databases do (same data dir). After a restart the contract is deployed again on a
// fresh chain (at the same address: same deployer, same nonce), and every record anchored
// before must be anchored again and verify on the new chain.
const ports = platformPorts(14000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;

jest.setTimeout(240_000);

const api = gatewayClient(gateway);

interface Anchors {
  status: string;
  records: {
    sourceId: string;
    status: string;
    receipt: {
      txHash: string | null;
      root: string | null;
      blockNumber: number | null;
      leaf: string;
    };
  }[];
}

describe('platform restart with the same data dir: anchors verify again on the fresh chain', () => {
  let platform: Platform | undefined;
  let dataDir: string;
  const start = async () => {
    platform = await startPlatform({ env: embeddedEnv(dataDir), ports, print: () => undefined });
  };

  beforeAll(() => {
    dataDir = tempDataDir('restart');
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('re-anchors the old order after a restart', async () => {
    await start();
    const login = async () =>
      (
        await api<{ accessToken: string }>('POST', '/api/auth/login', {
          email: DEMO_ACCOUNTS.customer.email,
          password: DEMO_ACCOUNTS.customer.password,
        })
      ).body.accessToken;
    let token = await login();
    const products = await api<{ items: { id: string }[] }>(
      'GET',
      '/api/products?limit=5',
      undefined,
      token,
    );
    const order = await api<{ id: string }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId: products.body.items[0]!.id, quantity: 1 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Restart'),
      },
      token,
    );
    expect(order.status).toBe(201);
    const anchored = (r: { status: number; body: Anchors }) =>
      r.status === 200 &&
      r.body.records.length >= 3 &&
      r.body.records.every((x) => x.status === 'VERIFIED');
    const before = await until(
      () => api<Anchors>('GET', `/api/blockchain/order/${order.body.id}`, undefined, token),
      anchored,
      60_000,
    );
    // The creation, PAYMENT_PROCESSING, CONFIRMED: one chained entry each.
    expect(before.body.records.map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED', 'VERIFIED']);

    await platform!.stop();
    platform = undefined;
    await start();
    token = await login(); // same JWT keys: they live in the data dir

    const after = await until(
      () => api<Anchors>('GET', `/api/blockchain/order/${order.body.id}`, undefined, token),
      (r) =>
        anchored(r) &&
        r.body.records.every((x, i) => x.receipt.txHash !== before.body.records[i]!.receipt.txHash),
      60_000,
    );
    expect(after.status).toBe(200);
    // The same entries (same leaves, so the promises given still hold), anchored again in new
    // transactions: a new log on the fresh chain, starting from a zero previous root.
    expect(after.body.records.map((r) => r.sourceId)).toEqual(
      before.body.records.map((r) => r.sourceId),
    );
    expect(after.body.records.map((r) => r.receipt.leaf)).toEqual(
      before.body.records.map((r) => r.receipt.leaf),
    );
    expect(after.body.status).toBe('VERIFIED');
    expect(after.body.records.map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED', 'VERIFIED']);
    for (const [i, r] of after.body.records.entries()) {
      expect(r.receipt.txHash).not.toBe(before.body.records[i]!.receipt.txHash);
    }
    const tx = after.body.records[1]!.receipt.txHash!;
    const verify = await api<Anchors>('GET', `/api/blockchain/verify/${tx}`, undefined, token);
    expect(verify.status).toBe(200);
    expect(verify.body.records.every((r) => r.status === 'VERIFIED')).toBe(true);
    // The old transaction no longer exists on the fresh chain nor in our batches.
    const old = await api<Anchors>(
      'GET',
      `/api/blockchain/verify/${before.body.records[1]!.receipt.txHash}`,
      undefined,
      token,
    );
    expect(old.status).toBe(404);
  });
});
