import fs from 'node:fs';
import { Wallet } from 'ethers';
import { signPromise, type AnchorPromise } from '@ecom/blockchain/src/verification';
import { fetchPublishedLog } from '@ecom/blockchain/src/monitor';
import { connectChain, type ChainReader } from '../../audit-web/src/verify/chain';
import { newestState, verifyReceipts } from '../../audit-web/src/verify/entries';
import { compareLiveOrder, type LiveOrder } from '../../audit-web/src/verify/live-order';
import { checkPromise } from '../../audit-web/src/verify/promise-check';
import { readReceiptInput } from '../../audit-web/src/verify/receipt-input';
import type { Receipt, RecordVerdict } from '../../audit-web/src/verify/types';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until, untilOrderStatus } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

/**
 * The audit explorer's verification module (audit-web/src/verify), run in Node against a real
 * order of a started platform and its embedded chain: what the browser does, checked without a
 * browser, including each way a receipt can be doctored.
 */
const ports = platformPorts(27000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;
const chainUrl = `http://127.0.0.1:${ports.chain}`;

jest.setTimeout(180_000);

const api = gatewayClient(gateway);
const now = () => Math.floor(Date.now() / 1000);
const failed = (v: RecordVerdict) =>
  v.entries.flatMap((e) => e.checks.filter((c) => c.status === 'fail').map((c) => c.name));

describe('audit explorer: the verification module against a real order', () => {
  let platform: Platform;
  let dataDir: string;
  let chain: ChainReader;
  let orderId: string;
  let live: LiveOrder;
  let receipts: Receipt[];
  let payment: { id: string; receipts: Receipt[] };
  let promise: AnchorPromise;

  beforeAll(async () => {
    dataDir = tempDataDir('audit-verify');
    platform = await startPlatform({ env: embeddedEnv(dataDir), ports, print: () => undefined });
    const reg = await api<{ accessToken: string }>('POST', '/api/auth/register', {
      email: `audit-verify-${Date.now()}@example.com`,
      password: 'Audit#verify2026',
      name: 'Audit Verify',
    });
    const token = reg.body.accessToken;
    const products = await api<{ items: { id: string }[] }>('GET', '/api/products?limit=5');
    const placed = await api<{ id: string; anchorPromise: AnchorPromise }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId: products.body.items[1]!.id, quantity: 2 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Audit Verify'),
      },
      token,
    );
    expect(placed.status).toBe(201);
    orderId = placed.body.id;
    promise = placed.body.anchorPromise;
    await untilOrderStatus(api, orderId, token, 'CONFIRMED');
    type Answer = { status: string; records: { receipt: Receipt }[] };
    const order = await until(
      () => api<Answer>('GET', `/api/blockchain/order/${orderId}`, undefined, token),
      (r) => r.body.status === 'VERIFIED' && r.body.records.length === 3,
    );
    receipts = order.body.records.map((r) => r.receipt);
    live = (await api<LiveOrder>('GET', `/api/orders/${orderId}`, undefined, token)).body;
    const pay = await until(
      () => api<Answer>('GET', `/api/blockchain/payment/${live.paymentId}`, undefined, token),
      (r) => r.body.status === 'VERIFIED',
    );
    payment = { id: live.paymentId!, receipts: pay.body.records.map((r) => r.receipt) };
    chain = await connectChain(chainUrl);
  });

  afterAll(async () => {
    chain?.close();
    await platform?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const verify = (list: Receipt[], options: Partial<Parameters<typeof verifyReceipts>[3]> = {}) =>
    verifyReceipts('order', orderId, list, { chain, now: now(), wholeRecord: true, ...options });

  it('verifies the order and its payment, asking the chain for every root', async () => {
    const order = await verify(receipts);
    expect(order.reasons).toEqual([]);
    expect(order.state).toBe('verified');
    expect(order.entries.map((e) => e.sequence)).toEqual([1, 2, 3]);
    for (const e of order.entries) {
      expect(e.state).toBe('verified');
      const passed = e.checks.filter((c) => c.status === 'pass').map((c) => c.name);
      expect(passed).toEqual(
        expect.arrayContaining(['leaf recomputed', 'chain link', 'Merkle proof', 'root on chain']),
      );
      expect(e.checks.find((c) => c.name === 'root on chain')!.basis).toBe('asked the chain');
    }
    const pay = await verifyReceipts('payment', payment.id, payment.receipts, {
      chain,
      now: now(),
      wholeRecord: true,
    });
    expect(pay.state).toBe('verified');
    expect(compareLiveOrder(newestState(receipts), live).status).toBe('pass');
  });

  it('without a chain the offline checks pass but nothing is called verified', async () => {
    const v = await verify(receipts, { chain: null });
    expect(v.state).toBe('unconfirmed');
    expect(failed(v)).toEqual([]);
  });

  it('a doctored canonical text breaks its leaf and the next link', async () => {
    const doctored = receipts.map((r, i) =>
      i === 1 ? { ...r, canonical: r.canonical.replace(/"quantity":2/, '"quantity":3') } : r,
    );
    expect(doctored[1]!.canonical).not.toBe(receipts[1]!.canonical);
    const v = await verify(doctored);
    expect(v.state).toBe('tampered');
    expect(v.entries[1]!.reasons.join()).toMatch(/the canonical text and salt hash to/);
    expect(v.entries[2]!.reasons.join()).toMatch(/names previous leaf .* but entry 2 hashes to/);
  });

  it('a missing entry, a bent proof, a foreign contract and a forged promise each fail', async () => {
    const gap = await verify([receipts[0]!, receipts[2]!]);
    expect(gap.reasons.join()).toContain('sequence 3 where 2 was due');

    const sibling = `0x${'11'.repeat(32)}`;
    const bent = await verify(
      receipts.map((r) => ({ ...r, proof: [...(r.proof ?? []), sibling] })),
    );
    expect(failed(bent)).toContain('Merkle proof');

    const elsewhere = await verify(receipts, { contractAddress: Wallet.createRandom().address });
    expect(elsewhere.state).toBe('tampered');
    expect(elsewhere.reasons.join()).toContain('no contract at');

    const r = receipts[0]!;
    const forged = await signPromise(Wallet.createRandom(), {
      chainId: r.promise!.chainId,
      recordType: 'order',
      recordId: orderId,
      sequence: 1,
      leaf: r.leaf,
      deadline: r.promise!.deadline,
    });
    // Signed by a key of its own: the signature holds, the chain names another anchorer.
    const v = await verify([{ ...r, promise: forged }, receipts[1]!, receipts[2]!]);
    expect(v.entries[0]!.reasons.join()).toMatch(
      /the root was anchored by 0x[0-9a-f]+, the promise signed by/,
    );
    const mismatched = await verify([
      { ...r, promise: { ...r.promise!, signer: forged.signer } },
      receipts[1]!,
      receipts[2]!,
    ]);
    expect(mismatched.entries[0]!.reasons.join()).toMatch(
      /signed promise: the promise does not hold: signed by/,
    );
  });

  it('compares the order the API shows with its newest anchored entry', () => {
    const changed = { ...live, total: { ...live.total, amount: live.total.amount + 500 } };
    const check = compareLiveOrder(newestState(receipts), changed);
    expect(check.status).toBe('fail');
    expect(check.detail).toBe(
      `the order changed without an anchored entry: total is ${live.total.amount + 500}, anchored ${live.total.amount}`,
    );
  });

  it('reads the receipt shapes a user may paste, and says what is wrong otherwise', () => {
    const whole = readReceiptInput(
      JSON.stringify({ orderId, records: receipts.map((receipt) => ({ receipt })) }),
    );
    expect(whole).toMatchObject({ kind: 'receipts', recordId: orderId, wholeRecord: true });
    expect(readReceiptInput(JSON.stringify(receipts[0]))).toMatchObject({ wholeRecord: false });
    expect(readReceiptInput(JSON.stringify({ id: orderId, anchorPromise: promise }))).toMatchObject(
      {
        kind: 'promise',
      },
    );
    expect(() => readReceiptInput('{oops')).toThrow('this is not JSON');
    expect(() => readReceiptInput(JSON.stringify([{ leaf: '0x' }]))).toThrow(
      'item 1 is not a receipt',
    );
    expect(() => readReceiptInput(JSON.stringify([receipts[0], payment.receipts[0]]))).toThrow(
      'more than one record',
    );
  });

  it('checks the promise an order placement answers against the public log and the chain', async () => {
    const log = await fetchPublishedLog(gateway, 'order');
    const kept = await checkPromise(promise, log.batches, chain, log.info.contractAddress, now());
    expect(kept.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(kept.state).toBe('verified');
    const other = { ...promise, leaf: `0x${'22'.repeat(32)}` };
    const broken = await checkPromise(other, log.batches, chain, log.info.contractAddress, now());
    expect(broken.state).toBe('tampered');
    // As the public log serves it: no record id (its key stands for it), nothing thrown.
    const { recordId: _id, ...published } = promise;
    const fromLog = await checkPromise(
      published as typeof promise,
      log.batches,
      chain,
      log.info.contractAddress,
      now(),
    );
    expect(fromLog.checks.find((c) => c.name === 'record key')?.status).toBe('skip');
    expect(fromLog.state).toBe('verified');
  });
});
