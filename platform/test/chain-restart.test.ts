import fs from 'node:fs';
import path from 'node:path';
import { Contract, getCreateAddress, JsonRpcProvider, Wallet } from 'ethers';
import { AUDIT_ANCHOR_ABI } from '@ecom/common/anchoring';
import { CHAIN_DIR } from '../src/chain';
import { DEMO_ACCOUNTS } from '../src/demo';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

// The restart rule for anchoring: the embedded chain is kept in the data dir (its journal is
// replayed at start), so after a restart with the same data dir the receipts a customer saved
// (txHash, root, blockNumber) still verify on the chain as they are, and nothing is anchored
// again. Only a chain that is really lost (its journal deleted) makes the services anchor
// every record again, on the new chain.
const ports = platformPorts(14000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;
const chainUrl = `http://127.0.0.1:${ports.chain}`;

jest.setTimeout(300_000);

const api = gatewayClient(gateway);

interface Receipt {
  txHash: string | null;
  root: string | null;
  blockNumber: number | null;
  leaf: string;
}

interface Anchors {
  status: string;
  records: { sourceId: string; status: string; receipt: Receipt }[];
}

describe('platform restart with the same data dir', () => {
  let platform: Platform | undefined;
  let dataDir: string;
  let token: string;
  let orderId: string;
  let before: Anchors;
  const start = async () => {
    platform = await startPlatform({ env: embeddedEnv(dataDir), ports, print: () => undefined });
    // Same JWT keys across restarts (they live in the data dir), but a fresh login is simplest.
    token = (
      await api<{ accessToken: string }>('POST', '/api/auth/login', {
        email: DEMO_ACCOUNTS.customer.email,
        password: DEMO_ACCOUNTS.customer.password,
      })
    ).body.accessToken;
  };
  const restart = async (between?: () => void) => {
    await platform!.stop();
    platform = undefined;
    between?.();
    await start();
  };
  const anchored = (r: { status: number; body: Anchors }) =>
    r.status === 200 &&
    r.body.records.length >= 3 &&
    r.body.records.every((x) => x.status === 'VERIFIED');
  const anchorsOf = (id: string, ok: (r: { status: number; body: Anchors }) => boolean) =>
    until(() => api<Anchors>('GET', `/api/blockchain/order/${id}`, undefined, token), ok, 60_000);
  const placeOrder = async (name: string) => {
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
        shippingAddress: testAddress(name),
      },
      token,
    );
    expect(order.status).toBe(201);
    return order.body.id;
  };
  const receipts = (a: Anchors) => a.records.map((r) => r.receipt);

  beforeAll(async () => {
    dataDir = tempDataDir('restart');
    await start();
    orderId = await placeOrder('Restart');
    before = (await anchorsOf(orderId, anchored)).body;
    // The creation, PAYMENT_PROCESSING, CONFIRMED: one chained entry each.
    expect(before.records.map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED', 'VERIFIED']);
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the chain: the receipts taken before verify on it unchanged, nothing is anchored again', async () => {
    await restart();
    // A new order anchored after the restart: the anchor clients have looked at the chain
    // (a lost chain would have sent every stored record back to the queue first).
    const later = await placeOrder('After restart');
    await anchorsOf(later, anchored);

    const after = await anchorsOf(orderId, anchored);
    expect(after.body.status).toBe('VERIFIED');
    expect(receipts(after.body)).toEqual(receipts(before));

    // The customer's own check, against the chain and nothing of ours: each saved receipt's
    // transaction is in the block it names, and the contract knows its root from that block.
    const keys = JSON.parse(
      fs.readFileSync(path.join(dataDir, CHAIN_DIR, 'keys.json'), 'utf8'),
    ) as { admin: string };
    const provider = new JsonRpcProvider(chainUrl, 31337, { staticNetwork: true });
    try {
      const address = getCreateAddress({ from: new Wallet(keys.admin).address, nonce: 0 });
      const contract = new Contract(address, AUDIT_ANCHOR_ABI, provider);
      for (const receipt of receipts(before)) {
        const mined = await provider.getTransactionReceipt(receipt.txHash!);
        expect(mined?.blockNumber).toBe(receipt.blockNumber);
        expect(mined?.status).toBe(1);
        const [isAnchored, , , blockNumber] = (await contract.anchorOf(receipt.root)) as [
          boolean,
          bigint,
          bigint,
          bigint,
        ];
        expect(isAnchored).toBe(true);
        expect(Number(blockNumber)).toBe(receipt.blockNumber);
      }
    } finally {
      provider.destroy();
    }
    const verify = await api<Anchors>(
      'GET',
      `/api/blockchain/verify/${before.records[1]!.receipt.txHash}`,
      undefined,
      token,
    );
    expect(verify.status).toBe(200);
    expect(verify.body.records.every((r) => r.status === 'VERIFIED')).toBe(true);
  });

  it('a chain whose journal is deleted is lost: every record is anchored again on the new chain', async () => {
    const journal = path.join(dataDir, CHAIN_DIR, 'journal.jsonl');
    await restart(() => {
      expect(fs.existsSync(journal)).toBe(true);
      fs.rmSync(journal);
    });

    const after = await anchorsOf(
      orderId,
      (r) =>
        anchored(r) &&
        r.body.records.every((x, i) => x.receipt.txHash !== before.records[i]!.receipt.txHash),
    );
    expect(after.status).toBe(200);
    // The same entries (same leaves, so the promises given still hold), anchored again in new
    // transactions: a new log on the new chain, starting from a zero previous root.
    expect(after.body.records.map((r) => r.sourceId)).toEqual(
      before.records.map((r) => r.sourceId),
    );
    expect(after.body.records.map((r) => r.receipt.leaf)).toEqual(
      before.records.map((r) => r.receipt.leaf),
    );
    expect(after.body.status).toBe('VERIFIED');
    for (const [i, r] of after.body.records.entries()) {
      expect(r.receipt.txHash).not.toBe(before.records[i]!.receipt.txHash);
    }
    const tx = after.body.records[1]!.receipt.txHash!;
    const verify = await api<Anchors>('GET', `/api/blockchain/verify/${tx}`, undefined, token);
    expect(verify.status).toBe(200);
    expect(verify.body.records.every((r) => r.status === 'VERIFIED')).toBe(true);
    // The old transaction exists neither on the new chain nor in our batches.
    const old = await api<Anchors>(
      'GET',
      `/api/blockchain/verify/${before.records[1]!.receipt.txHash}`,
      undefined,
      token,
    );
    expect(old.status).toBe(404);
  });
});
