import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { NonceManager, Wallet } from 'ethers';
import {
  auditAnchorAt,
  buildBatchTree,
  createChainProvider,
  leafHash,
  newSalt,
  onChainBatchId,
  promiseSigner,
  recordKey,
  type AnchorPromise,
} from '@ecom/common/anchoring';
import type { AuthUser } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import { startEmbeddedChain, type EmbeddedChain } from '@ecom/blockchain/src/embedded-chain';
import {
  fetchChainEvents,
  fetchPublishedLog,
  replayLog,
  type Finding,
} from '@ecom/blockchain/src/monitor';
import { orderConfigSchema, orderService } from '@ecom/order-service';
import { paymentConfigSchema, paymentService } from '@ecom/payment-service';
import { freePort, testServiceEnv } from '@ecom/test-support';
import { Saga, address, bearer, customer, eventually } from './harness';

// Order and payment anchoring end to end: the real saga (product, payment, order over the
// in-memory bus, real PostgreSQL) against an in-process Hardhat chain on a free port, and the
// independent monitor replaying the chain and the services' public logs.
process.env.POSTGRES_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
jest.setTimeout(90_000);

const admin: AuthUser = { id: 'anchor-admin', role: 'admin' };
const stranger: AuthUser = { id: 'anchor-stranger', role: 'customer' };

interface EntryView {
  recordType: string;
  recordId: string;
  sourceId: string;
  status: 'PENDING' | 'ANCHORED' | 'VERIFIED' | 'TAMPERED';
  reason?: string;
  receipt: {
    sequence: number;
    proof: string[] | null;
    root: string | null;
    leaf: string;
    salt: string;
    batchId: string | null;
    txHash: string | null;
    blockNumber: number | null;
    chainId: number | null;
    contractAddress: string | null;
    canonical: string;
    promise: AnchorPromise | null;
  };
}

interface RecordAnswer {
  status: EntryView['status'];
  reasons: string[];
  records: EntryView[];
}

let chain: EmbeddedChain;
let saga: Saga;
let productId: string;
const paymentKey = () => chain.anchorerKeys[0];
const orderKey = () => chain.anchorerKeys[1];

const anchorEnv = (key: string) => ({
  BLOCKCHAIN_RPC_URL: chain.url,
  ANCHOR_CONTRACT_ADDRESS: chain.contractAddress,
  ANCHOR_PRIVATE_KEY: key,
  ANCHOR_WINDOW_MS: '30',
});

beforeAll(async () => {
  chain = await startEmbeddedChain({ port: 0, anchorers: 2 });
  const orderPort = await freePort();
  saga = new Saga({
    kind: 'memory',
    label: 'anchoring_saga',
    captureLogs: false,
    env: {
      // One key per service: one writer per key.
      payment: {
        ...anchorEnv(paymentKey()),
        ORDER_SERVICE_URL: `http://127.0.0.1:${orderPort}`,
      },
      order: { ...anchorEnv(orderKey()), PORT: String(orderPort) },
    },
  });
  await saga.start();
  productId = await saga.createProduct(1000, 12.5);
});

afterAll(async () => {
  await saga?.close();
  await chain?.stop();
});

const orderApi = () => request(saga.order.app);
const paymentApi = () => request(saga.payment.app);
/** GET `path` from a service with `user`'s token. */
const getAs = (api: ReturnType<typeof request>, path: string, user: AuthUser) =>
  api.get(path).set('Authorization', bearer(user));
const sql = {
  order: (text: string, values: unknown[]) => saga.order.pool.query(text, values),
  payment: (text: string, values: unknown[]) => saga.payment.pool.query(text, values),
};

interface Placed {
  orderId: string;
  paymentId: string;
  /** The promise the order's creation answered with, as the customer keeps it. */
  created: AnchorPromise;
}

async function placed(token: string): Promise<Placed & { status: number }> {
  const res = await orderApi()
    .post('/api/orders')
    .set('Authorization', bearer(customer))
    .send({
      items: [{ productId, quantity: 1 }],
      shippingAddress: address,
      payment: { method: 'card', token },
    });
  expect(res.status).toBe(201);
  const payment = await eventually(async () => {
    const row = await saga.paymentRow(res.body.id);
    return row && row.attempts > 0 ? row : undefined;
  }, 'payment attempted');
  return {
    orderId: res.body.id,
    paymentId: (payment as { id: string }).id,
    created: res.body.anchorPromise,
    status: res.status,
  };
}

async function confirmedOrder(): Promise<Placed> {
  const order = await placed('tok_visa');
  await saga.waitOrder(order.orderId, 'CONFIRMED');
  await eventually(
    async () => (await saga.paymentRow(order.orderId))?.status === 'COMPLETED',
    'paid',
  );
  return order;
}

/** Confirmed, then 500 of its 1250 refunded by an admin: refund rows on both sides. */
async function refundedOrder(): Promise<Placed & { refundId: string }> {
  const order = await confirmedOrder();
  const res = await paymentApi()
    .post(`/api/payments/${order.paymentId}/refund`)
    .set('Authorization', bearer(admin))
    .send({ amount: 500, reason: 'damaged box' });
  expect(res.status).toBe(201);
  await eventually(async () => {
    const { rows } = await sql.order('SELECT refunded_cents FROM orders WHERE id = $1', [
      order.orderId,
    ]);
    return Number(rows[0]?.refunded_cents) === 500;
  }, 'order saw the refund');
  return { ...order, refundId: res.body.refund.id };
}

async function declinedOrder(): Promise<Placed> {
  const order = await placed('tok_chargeDeclined');
  await saga.waitOrder(order.orderId, 'FAILED');
  return order;
}

async function flush() {
  await saga.order.flushAnchors(30_000);
  await saga.payment.flushAnchors(30_000);
}

async function orderRecord(orderId: string, user: AuthUser = customer): Promise<RecordAnswer> {
  const res = await getAs(orderApi(), `/api/blockchain/order/${orderId}`, user);
  expect(res.status).toBe(200);
  expect(res.body.orderId).toBe(orderId);
  return res.body as RecordAnswer;
}

async function paymentRecord(paymentId: string, user: AuthUser = customer): Promise<RecordAnswer> {
  const res = await getAs(paymentApi(), `/api/blockchain/payment/${paymentId}`, user);
  expect(res.status).toBe(200);
  return res.body as RecordAnswer;
}

const doc = (e: EntryView) =>
  JSON.parse(e.receipt.canonical) as {
    sequence: number;
    sourceId: string;
    change: Record<string, unknown>;
    state: Record<string, unknown>;
  };

function expectMined(entry: EntryView) {
  expect(entry.receipt.proof).toEqual(expect.any(Array));
  expect(entry.receipt.root).toMatch(/^0x[0-9a-f]{64}$/);
  expect(entry.receipt.txHash).toMatch(/^0x[0-9a-f]{64}$/);
  expect(entry.receipt.blockNumber).toBeGreaterThan(0);
  expect(entry.receipt.chainId).toBe(31337);
  expect(entry.receipt.contractAddress?.toLowerCase()).toBe(chain.contractAddress.toLowerCase());
}

/** The independent monitor: the chain's events and the services' public logs, over HTTP. */
async function monitor(promises: AnchorPromise[] = []): Promise<Finding[]> {
  const provider = createChainProvider(chain.url, chain.chainId);
  try {
    const logs = [
      await fetchPublishedLog(saga.order.url, 'order'),
      await fetchPublishedLog(saga.payment.url, 'payment'),
    ];
    return replayLog({
      chainId: chain.chainId,
      contractAddress: chain.contractAddress,
      events: await fetchChainEvents(provider, chain.contractAddress, 0),
      logs,
      promises,
      knownAnchorers: logs.map((l) => l.info.anchorer),
      now: Math.floor(Date.now() / 1000),
    }).findings;
  } finally {
    provider.destroy();
  }
}

describe('anchoring of orders and payments (real saga, real chain)', () => {
  let confirmed: Placed;
  let refunded: Placed & { refundId: string };
  let declined: Placed;

  beforeAll(async () => {
    [confirmed, refunded, declined] = await Promise.all([
      confirmedOrder(),
      refundedOrder(),
      declinedOrder(),
    ]);
    await flush();
  });

  it("chains every change of an order, its creation included, each entry holding the whole order; the creation's answer carries its signed promise", async () => {
    const record = await orderRecord(confirmed.orderId);
    expect(record).toMatchObject({ status: 'VERIFIED', reasons: [] });
    const docs = record.records.map(doc);
    expect(docs.map((d) => d.change.to)).toEqual(['PENDING', 'PAYMENT_PROCESSING', 'CONFIRMED']);
    expect(docs.map((d) => d.sequence)).toEqual([1, 2, 3]);
    for (const entry of record.records) {
      expect(entry).toMatchObject({
        recordType: 'order',
        recordId: confirmed.orderId,
        status: 'VERIFIED',
      });
      expectMined(entry);
    }
    expect(docs[2].state).toMatchObject({
      orderId: confirmed.orderId,
      userId: customer.id,
      status: 'CONFIRMED',
      total: 1250,
      refunded: 0,
      currency: 'USD',
      paymentId: confirmed.paymentId,
      items: [{ lineNo: 1, productId, quantity: 1, unitPrice: 1250, lineTotal: 1250 }],
      shippingAddress: expect.objectContaining({ city: address.city }),
    });
    // The promise given with the 201: signed by the order service's key, for entry 1's leaf.
    const orderSigner = new Wallet(orderKey()).address.toLowerCase();
    expect(promiseSigner(confirmed.created)).toBe(orderSigner);
    expect(confirmed.created).toMatchObject({
      recordType: 'order',
      recordId: confirmed.orderId,
      recordKey: recordKey('order', confirmed.orderId),
      sequence: 1,
      leaf: record.records[0].receipt.leaf,
    });
    expect(confirmed.created.deadline).toBeGreaterThan(Date.now() / 1000);
    // Cancelling (or shipping) answers the promise of that change.
    const shipped = await orderApi()
      .put(`/api/orders/${confirmed.orderId}/status`)
      .set('Authorization', bearer(admin))
      .send({ status: 'SHIPPED' });
    expect(shipped.status).toBe(200);
    expect(shipped.body.anchorPromise).toMatchObject({ sequence: 4, signer: orderSigner });
  });

  it('anchors every change of a payment: creation, attempts (declines too), refunds', async () => {
    const paid = await paymentRecord(confirmed.paymentId);
    expect(paid.status).toBe('VERIFIED');
    expect(paid.records.map((e) => e.sourceId)).toEqual(['created', 'attempt:1', 'attempt:1']);
    expect(doc(paid.records[2])).toMatchObject({
      change: { kind: 'attempt', status: 'SUCCEEDED' },
      state: { status: 'COMPLETED', amount: 1250, currency: 'USD', refunded: 0 },
    });
    paid.records.forEach(expectMined);

    const decline = await paymentRecord(declined.paymentId);
    expect(decline.status).toBe('VERIFIED');
    const attempt = decline.records.filter((e) => e.sourceId === 'attempt:1').at(-1)!;
    expect(doc(attempt)).toMatchObject({
      change: { kind: 'attempt', status: 'FAILED', failureCode: 'card_declined' },
      state: { status: 'FAILED', amount: 1250 },
    });

    const refund = await paymentRecord(refunded.paymentId);
    expect(refund.status).toBe('VERIFIED');
    const refundEntries = refund.records.filter(
      (e) => e.sourceId === `refund:${refunded.refundId}`,
    );
    expect(refundEntries.map((e) => doc(e).change.status)).toEqual(['PENDING', 'SUCCEEDED']);
    expect(doc(refundEntries[1]).state).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refunded: 500,
    });
    // The order records the refund payment reported as a change of its own.
    const order = await orderRecord(refunded.orderId);
    expect(order.status).toBe('VERIFIED');
    expect(doc(order.records.at(-1)!)).toMatchObject({
      sourceId: `refund:${refunded.refundId}`,
      change: { kind: 'refund', amount: 500, paymentId: refunded.paymentId },
      state: { refunded: 500, status: 'CONFIRMED' },
    });
  });

  it('lets the owner and an admin read a record, nobody else; bad ids and hashes are 400s', async () => {
    expect((await paymentRecord(confirmed.paymentId, admin)).status).toBe('VERIFIED');
    for (const [api, path] of [
      [paymentApi, `/api/blockchain/payment/${confirmed.paymentId}`],
      [orderApi, `/api/blockchain/order/${confirmed.orderId}`],
    ] as const) {
      const other = await getAs(api(), path, stranger);
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('NOT_FOUND');
      expect((await api().get(path)).status).toBe(401);
    }
    for (const bad of ['0x1234', `0x${'g'.repeat(64)}`, `${'a'.repeat(64)}`]) {
      for (const api of [paymentApi, orderApi]) {
        const res = await getAs(api(), `/api/blockchain/verify/${bad}`, customer);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
      }
    }
    expect((await getAs(orderApi(), '/api/blockchain/order/not-a-uuid', customer)).status).toBe(
      400,
    );
  });

  it('an id written in capitals is the same record: the same verdict, answered in lower case', async () => {
    for (const [api, kind, id] of [
      [orderApi, 'order', confirmed.orderId],
      [paymentApi, 'payment', confirmed.paymentId],
    ] as const) {
      const lower = await getAs(api(), `/api/blockchain/${kind}/${id}`, customer);
      const upper = await getAs(api(), `/api/blockchain/${kind}/${id.toUpperCase()}`, customer);
      expect(lower.body.status).toBe('VERIFIED');
      expect(upper.status).toBe(200);
      expect(upper.body).toEqual(lower.body);
    }
  });

  it("verify: payment's own tx, an order tx through the payment service (fallback), unknown → 404", async () => {
    const paymentTx = (await paymentRecord(confirmed.paymentId)).records[2].receipt.txHash!;
    const own = await getAs(paymentApi(), `/api/blockchain/verify/${paymentTx}`, customer);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ service: 'payment', txHash: paymentTx, chainId: 31337 });
    expect(own.body.records.map((r: EntryView) => [r.recordId, r.status])).toContainEqual([
      confirmed.paymentId,
      'VERIFIED',
    ]);
    const orderTx = (await orderRecord(declined.orderId)).records[0].receipt.txHash!;
    const viaPayment = await getAs(paymentApi(), `/api/blockchain/verify/${orderTx}`, customer);
    expect(viaPayment.status).toBe(200);
    expect(viaPayment.body.service).toBe('order');
    for (const r of viaPayment.body.records as EntryView[]) expect(r.status).toBe('VERIFIED');
    expect((await getAs(paymentApi(), `/api/blockchain/verify/${orderTx}`, stranger)).status).toBe(
      404,
    );
    const unknown = await getAs(
      paymentApi(),
      `/api/blockchain/verify/0x${randomBytes(32).toString('hex')}`,
      customer,
    );
    expect(unknown.status).toBe(404);
  });

  it('publishes a public log with no personal data, which the independent monitor replays clean', async () => {
    const info = await request(saga.order.app).get('/api/blockchain/order/log/info');
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({
      service: 'order',
      anchorer: new Wallet(orderKey()).address.toLowerCase(),
      chainId: 31337,
      contractAddress: chain.contractAddress.toLowerCase(),
      leafDomain: 'ecom.audit-anchor',
      serializationVersion: 2,
      promiseDomain: 'ecom.anchor-promise',
    });
    const log = await request(saga.order.app).get('/api/blockchain/order/log?limit=100');
    expect(log.status).toBe(200);
    const text = JSON.stringify(log.body);
    expect(text).not.toContain(confirmed.orderId);
    expect(text).not.toContain(customer.id);
    expect(text).toContain(recordKey('order', confirmed.orderId));
    expect(await monitor()).toEqual([]);
  });

  it('the operator rewriting an order with its own key is caught by the monitor (equivocation), even when published', async () => {
    const victim = await confirmedOrder();
    await flush();
    const original = (await orderRecord(victim.orderId)).records[1];
    // The key holder rebuilds entry 2 with another total and anchors it, extending the log as
    // the contract demands; the service is stopped so their nonces do not collide.
    const forgedText = original.receipt.canonical.replace('"total":1250', '"total":1');
    const forgedLeaf = leafHash(forgedText, newSalt(), 2);
    const tree = buildBatchTree([forgedLeaf]);
    await saga.order.anchoring!.stop();
    const provider = createChainProvider(chain.url, chain.chainId);
    try {
      const wallet = new Wallet(orderKey(), provider);
      const contract = auditAnchorAt(chain.contractAddress, new NonceManager(wallet));
      const head = ((await contract.latestRoot(wallet.address)) as string).toLowerCase();
      const batchUuid = randomUUID();
      const tx = await contract.anchor(onChainBatchId(batchUuid), tree.root, 1, head);
      const mined = await tx.wait();

      // Not published: a root on chain whose contents nobody can see.
      expect((await monitor()).map((f) => f.kind)).toContain('unpublished-root');

      // Published as if it were a batch of the service: two leaves for one record and sequence.
      await sql.order(
        `INSERT INTO anchor_batches (id, on_chain_id, root, previous_root, record_count, status,
           chain_id, contract_address, tx_hash, block_number)
         VALUES ($1, $2, $3, $4, 1, 'confirmed', $5, $6, $7, $8)`,
        [
          batchUuid,
          onChainBatchId(batchUuid),
          tree.root,
          head,
          chain.chainId,
          chain.contractAddress.toLowerCase(),
          mined.hash,
          mined.blockNumber,
        ],
      );
      await sql.order(
        `INSERT INTO anchor_batch_leaves (batch_id, position, leaf, record_key, sequence)
         VALUES ($1, 0, $2, $3, 2)`,
        [batchUuid, forgedLeaf, recordKey('order', victim.orderId)],
      );
      const findings = await monitor();
      expect(findings).toContainEqual(
        expect.objectContaining({
          kind: 'equivocation',
          subject: expect.stringContaining(`${recordKey('order', victim.orderId)}#2`),
        }),
      );
      expect(findings.map((f) => f.kind)).not.toContain('unpublished-root');
      // The service goes on: its next batch extends the log from the forged root.
      await sql.order('DELETE FROM anchor_batch_leaves WHERE batch_id = $1', [batchUuid]);
      await sql.order('DELETE FROM anchor_batches WHERE id = $1', [batchUuid]);
    } finally {
      provider.destroy();
      saga.order.anchoring!.start();
    }
    const after = await confirmedOrder();
    await flush();
    expect((await orderRecord(after.orderId)).status).toBe('VERIFIED');
  });

  it("a rewrite while the chain is down is shown by the customer's signed promise", async () => {
    await chain.pause();
    // The entries must still be queued when they are rewritten: a batch the worker built first
    // would be a rewrite after batching (a root mismatch, another test's case), not this one.
    await saga.order.anchoring!.stop();
    let victim: Placed;
    try {
      victim = await placed('tok_visa');
      await saga.waitOrder(victim.orderId, 'CONFIRMED'); // the saga never waits for the chain
      const pending = await orderRecord(victim.orderId);
      expect(pending.status).toBe('PENDING');
      expect(pending.records.every((e) => e.receipt.txHash === null && e.receipt.promise)).toBe(
        true,
      );
      // Someone with database access rewrites the queued creation entry (another address),
      // recomputing its leaf from the stored salt, and the live row to match.
      const first = pending.records[0];
      const forged = first.receipt.canonical.replaceAll(address.city, 'Elsewhere');
      expect(forged).not.toBe(first.receipt.canonical);
      await sql.order(
        `UPDATE anchor_records SET canonical = $2, leaf = $3 WHERE record_id = $1 AND sequence = 1`,
        [victim.orderId, forged, leafHash(forged, first.receipt.salt, 2)],
      );
    } finally {
      await chain.resume();
      saga.order.anchoring!.start();
    }
    await flush();
    // The service itself reports it: the entry no longer matches its own signed promise.
    const record = await orderRecord(victim!.orderId);
    expect(record.status).toBe('TAMPERED');
    expect(record.reasons.join('\n')).toMatch(/differs from what its signed promise says/);
    // And the customer's copy of the promise shows it to anyone, through the monitor.
    const findings = await monitor([victim!.created]);
    expect(findings).toContainEqual(
      expect.objectContaining({
        kind: 'broken-promise',
        subject: expect.stringContaining(`${recordKey('order', victim!.orderId)}#1`),
      }),
    );
  });

  describe('reports every edit made directly in SQL as TAMPERED, with the reason', () => {
    type Edit = [
      string,
      (o: Placed & { refundId: string }) => Promise<unknown>,
      'order' | 'payment',
      RegExp,
    ];
    const sourceOf = (type: 'order' | 'payment', o: Placed) =>
      type === 'order' ? o.orderId : o.paymentId;
    const anchorEdit =
      (type: 'order' | 'payment', set: string): Edit[1] =>
      (o) =>
        sql[type](`UPDATE anchor_records SET ${set} WHERE record_id = $1 AND sequence = 2`, [
          sourceOf(type, o),
        ]);
    const edits: Edit[] = [
      [
        'order total',
        (o) => sql.order('UPDATE orders SET total_cents = 100 WHERE id = $1', [o.orderId]),
        'order',
        /changed without a new entry/,
      ],
      [
        'line quantity',
        (o) => sql.order('UPDATE order_items SET quantity = 9 WHERE order_id = $1', [o.orderId]),
        'order',
        /changed without a new entry/,
      ],
      [
        'unit price',
        (o) =>
          sql.order('UPDATE order_items SET unit_price_cents = 1 WHERE order_id = $1', [o.orderId]),
        'order',
        /changed without a new entry/,
      ],
      [
        'order status alone',
        (o) => sql.order(`UPDATE orders SET status = 'DELIVERED' WHERE id = $1`, [o.orderId]),
        'order',
        /changed without a new entry/,
      ],
      [
        'order refunded amount',
        (o) => sql.order('UPDATE orders SET refunded_cents = 0 WHERE id = $1', [o.orderId]),
        'order',
        /changed without a new entry/,
      ],
      [
        'shipping address',
        (o) =>
          sql.order(
            `UPDATE orders SET shipping_address = jsonb_set(shipping_address, '{city}', '"Elsewhere"') WHERE id = $1`,
            [o.orderId],
          ),
        'order',
        /changed without a new entry/,
      ],
      [
        'a history row deleted',
        (o) =>
          sql.order(
            `DELETE FROM order_status_history WHERE order_id = $1 AND to_status = 'PAYMENT_PROCESSING'`,
            [o.orderId],
          ),
        'order',
        /change history:\d+ is gone/,
      ],
      [
        'a history row inserted',
        (o) =>
          sql.order(
            `INSERT INTO order_status_history (order_id, from_status, to_status, cause_type) VALUES ($1, 'CONFIRMED', 'SHIPPED', 'system')`,
            [o.orderId],
          ),
        'order',
        /change history:\d+ has no entry/,
      ],
      [
        'a history row edited',
        (o) =>
          sql.order(
            `UPDATE order_status_history SET reason = 'edited' WHERE order_id = $1 AND to_status = 'CONFIRMED'`,
            [o.orderId],
          ),
        'order',
        /change history:\d+ differs from its entry/,
      ],
      [
        'an order refund row deleted',
        (o) => sql.order('DELETE FROM order_refunds WHERE order_id = $1', [o.orderId]),
        'order',
        /change refund:.+ is gone/,
      ],
      [
        'an order refund row inserted',
        (o) =>
          sql.order(
            `INSERT INTO order_refunds (refund_id, order_id, payment_id, amount_cents, currency) VALUES ($2, $1, 'p', 100, 'USD')`,
            [o.orderId, randomUUID()],
          ),
        'order',
        /change refund:.+ has no entry/,
      ],
      [
        'the canonical text of an order entry',
        anchorEdit('order', `canonical = replace(canonical, '"quantity":1', '"quantity":9')`),
        'order',
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'the salt of an order entry',
        anchorEdit('order', `salt = '0x${'77'.repeat(32)}'`),
        'order',
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'the leaf of an order entry',
        anchorEdit('order', `leaf = '0x${'77'.repeat(32)}'`),
        'order',
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'the proof of an order entry',
        anchorEdit('order', `proof = '["0x${'11'.repeat(32)}"]'`),
        'order',
        /the stored proof does not lead to the anchored root/,
      ],
      [
        'an order receipt row deleted',
        (o) =>
          sql.order('DELETE FROM anchor_records WHERE record_id = $1 AND sequence = 2', [
            o.orderId,
          ]),
        'order',
        /entry 2 is missing|entry 2 is in the public log but gone/,
      ],
      // Last of the order edits: the batch it spoils may hold entries of the fixtures above.
      [
        'the root of an order batch',
        (o) =>
          sql.order(
            `UPDATE anchor_batches SET root = '0x${'22'.repeat(32)}' WHERE id = (SELECT batch_id FROM anchor_records WHERE record_id = $1 AND sequence = 2)`,
            [o.orderId],
          ),
        'order',
        /the stored proof does not lead to the anchored root/,
      ],
      [
        'payment amount',
        (o) => sql.payment('UPDATE payments SET amount_cents = 1000 WHERE id = $1', [o.paymentId]),
        'payment',
        /changed without a new entry/,
      ],
      [
        'payment status alone',
        (o) => sql.payment(`UPDATE payments SET status = 'REFUNDED' WHERE id = $1`, [o.paymentId]),
        'payment',
        /changed without a new entry/,
      ],
      [
        'payment refunded amount',
        (o) => sql.payment('UPDATE payments SET refunded_cents = 0 WHERE id = $1', [o.paymentId]),
        'payment',
        /changed without a new entry/,
      ],
      [
        'a payment refund row edited',
        (o) =>
          sql.payment('UPDATE refunds SET amount_cents = 1 WHERE payment_id = $1', [o.paymentId]),
        'payment',
        /change refund:.+ differs from its entry/,
      ],
      [
        'a payment refund row deleted',
        (o) => sql.payment('DELETE FROM refunds WHERE payment_id = $1', [o.paymentId]),
        'payment',
        /change refund:.+ is gone/,
      ],
      [
        'a payment refund row inserted',
        (o) =>
          sql.payment(
            `INSERT INTO refunds (id, payment_id, amount_cents, currency, cause, idempotency_key, status) VALUES ($2::uuid, $1, 100, 'USD', 'admin', $2::text, 'SUCCEEDED')`,
            [o.paymentId, randomUUID()],
          ),
        'payment',
        /change refund:.+ has no entry/,
      ],
      [
        'a payment attempt deleted',
        (o) => sql.payment('DELETE FROM payment_attempts WHERE payment_id = $1', [o.paymentId]),
        'payment',
        /change attempt:1 is gone/,
      ],
      [
        'the canonical text of a payment entry',
        anchorEdit('payment', `canonical = replace(canonical, '"amount":1250', '"amount":100')`),
        'payment',
        /the stored leaf is not the hash of its canonical text/,
      ],
      [
        'a payment receipt row deleted',
        (o) =>
          sql.payment('DELETE FROM anchor_records WHERE record_id = $1 AND sequence = 2', [
            o.paymentId,
          ]),
        'payment',
        /entry 2 is missing/,
      ],
    ];
    const fixtures: (Placed & { refundId: string })[] = [];

    beforeAll(async () => {
      // One refunded order per edit (an edit spoils its record), made side by side.
      for (let i = 0; i < edits.length; i += 6) {
        fixtures.push(...(await Promise.all(edits.slice(i, i + 6).map(() => refundedOrder()))));
      }
      await flush();
    });

    it.each(edits.map((e, i) => [...e, i] as const))('%s', async (_, edit, type, reason, i) => {
      const o = fixtures[i]!;
      const read = () => (type === 'order' ? orderRecord(o.orderId) : paymentRecord(o.paymentId));
      expect(await read()).toMatchObject({ status: 'VERIFIED', reasons: [] });
      await edit(o);
      const after = await read();
      expect(after.status).toBe('TAMPERED');
      expect(after.reasons.join('\n')).toMatch(reason);
    });

    it('a declined payment whose amount is edited', async () => {
      const o = await declinedOrder();
      await flush();
      expect((await paymentRecord(o.paymentId)).status).toBe('VERIFIED');
      await sql.payment('UPDATE payments SET amount_cents = 1 WHERE id = $1', [o.paymentId]);
      const after = await paymentRecord(o.paymentId);
      expect(after.status).toBe('TAMPERED');
      expect(after.reasons.join('\n')).toMatch(/changed without a new entry/);
    });

    it('the verify route re-checks the records of a transaction too', async () => {
      const o = await confirmedOrder();
      await flush();
      const tx = (await orderRecord(o.orderId)).records[2].receipt.txHash!;
      await sql.order(`UPDATE orders SET status = 'DELIVERED' WHERE id = $1`, [o.orderId]);
      const res = await getAs(paymentApi(), `/api/blockchain/verify/${tx}`, customer);
      expect(res.status).toBe(200);
      const mine = (res.body.records as EntryView[]).filter((r) => r.recordId === o.orderId);
      expect(mine.length).toBeGreaterThan(0);
      expect(mine.every((r) => r.status === 'TAMPERED')).toBe(true);
    });
  });

  it('a chain outage never blocks the saga: entries stay pending, then catch up', async () => {
    await chain.pause();
    let id: string;
    try {
      ({ orderId: id } = await confirmedOrder());
      const record = await orderRecord(id);
      expect(record.status).toBe('PENDING');
      // One entry per status the order went through: created, CONFIRMED and, unless
      // payment.completed overtook the reservation, PAYMENT_PROCESSING between them.
      const { rows: history } = await sql.order(
        'SELECT 1 FROM order_status_history WHERE order_id = $1',
        [id],
      );
      expect(history.length).toBeGreaterThanOrEqual(2);
      expect(record.records.map((r) => r.status)).toEqual(history.map(() => 'PENDING'));
      const status = await getAs(orderApi(), '/api/blockchain/status', admin);
      expect(status.status).toBe(200);
      expect(status.body.pendingRecords).toBeGreaterThanOrEqual(history.length);
    } finally {
      await chain.resume();
    }
    await flush();
    expect((await orderRecord(id)).status).toBe('VERIFIED');
    const status = await getAs(paymentApi(), '/api/blockchain/status', admin);
    expect(status.body).toMatchObject({ service: 'payment', pendingRecords: 0, chainId: 31337 });
    expect((await getAs(paymentApi(), '/api/blockchain/status', customer)).status).toBe(403);
  });

  it('with anchoring off nothing is queued and the blockchain routes answer 503', async () => {
    // HTTP-only instances on the same databases, configured without BLOCKCHAIN_RPC_URL.
    const env = { ...testServiceEnv, OUTBOX_POLL_INTERVAL_MS: '60000' };
    const bus = new InMemoryEventBus();
    const order = await orderService.start({
      config: loadConfig(orderConfigSchema, {
        ...env,
        DATABASE_URL: saga.orderDbUrl,
        PRODUCT_SERVICE_URL: saga.product.url,
      }),
      bus,
      options: { consume: false },
    });
    const payment = await paymentService.start({
      config: loadConfig(paymentConfigSchema, { ...env, DATABASE_URL: saga.paymentDbUrl }),
      bus,
      options: { consume: false },
    });
    try {
      expect(order.anchoring).toBeNull();
      expect(payment.anchoring).toBeNull();
      const created = await request(order.app)
        .post('/api/orders')
        .set('Authorization', bearer(customer))
        .send({ items: [{ productId, quantity: 1 }], shippingAddress: address });
      expect(created.status).toBe(201);
      expect(created.body.anchorPromise).toBeNull();
      const cancelled = await request(order.app)
        .put(`/api/orders/${created.body.id}/cancel`)
        .set('Authorization', bearer(customer))
        .send({});
      expect(cancelled.status).toBe(200);
      const { rows } = await saga.order.pool.query(
        `SELECT (SELECT count(*) FROM order_status_history WHERE order_id = $1)::int AS changes,
                (SELECT count(*) FROM anchor_records WHERE record_id = $1::text)::int AS anchors`,
        [created.body.id],
      );
      expect(rows[0]).toEqual({ changes: 2, anchors: 0 });

      for (const [app, path] of [
        [order.app, `/api/blockchain/order/${created.body.id}`],
        [order.app, '/api/blockchain/order/log'],
        [order.app, `/api/blockchain/verify/0x${'ab'.repeat(32)}`],
        [payment.app, `/api/blockchain/verify/0x${'ab'.repeat(32)}`],
        [payment.app, '/api/blockchain/status'],
      ] as const) {
        const res = await request(app).get(path).set('Authorization', bearer(admin));
        expect(res.status).toBe(503);
        expect(res.body.error).toMatchObject({ code: 'ANCHORING_NOT_CONFIGURED' });
      }
    } finally {
      await order.stop();
      await payment.stop();
      await bus.close();
    }
  });
});
