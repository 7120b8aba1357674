import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { AuthUser } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import { startEmbeddedChain, type EmbeddedChain } from '@ecom/blockchain/src/embedded-chain';
import { orderConfigSchema, orderService } from '@ecom/order-service';
import { paymentConfigSchema, paymentService } from '@ecom/payment-service';
import { freePort, testServiceEnv } from '@ecom/test-support';
import { Saga, address, bearer, customer, eventually } from './harness';

// Order and payment anchoring end to end: the real saga (product, payment, order over the
// in-memory bus, real PostgreSQL) against an in-process Hardhat chain on a free port.
process.env.POSTGRES_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
jest.setTimeout(60_000);

const admin: AuthUser = { id: 'anchor-admin', role: 'admin' };
const stranger: AuthUser = { id: 'anchor-stranger', role: 'customer' };

interface RecordView {
  recordType: string;
  recordId: string;
  sourceId: string;
  status: 'PENDING' | 'ANCHORED' | 'VERIFIED' | 'TAMPERED';
  reason?: string;
  receipt: {
    proof: string[] | null;
    root: string | null;
    batchId: string | null;
    txHash: string | null;
    blockNumber: number | null;
    chainId: number | null;
    contractAddress: string | null;
    canonical: string;
  };
}

let chain: EmbeddedChain;
let saga: Saga;
let productId: string;

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
        ...anchorEnv(chain.anchorerKeys[0]),
        ORDER_SERVICE_URL: `http://127.0.0.1:${orderPort}`,
      },
      order: { ...anchorEnv(chain.anchorerKeys[1]), PORT: String(orderPort) },
    },
  });
  await saga.start();
  productId = await saga.createProduct(100, 12.5);
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

async function confirmedOrder(): Promise<{ orderId: string; paymentId: string }> {
  const order = await saga.placeOrder([{ productId, quantity: 1 }], 'tok_visa');
  await saga.waitOrder(order.id, 'CONFIRMED');
  const payment = await eventually(
    async () =>
      (await saga.paymentRow(order.id))?.status === 'COMPLETED' && saga.paymentRow(order.id),
    'payment completed',
  );
  return { orderId: order.id, paymentId: (payment as { id: string }).id };
}

async function flush() {
  await saga.order.flushAnchors(20_000);
  await saga.payment.flushAnchors(20_000);
}

async function orderRecords(orderId: string, user: AuthUser = customer): Promise<RecordView[]> {
  const res = await getAs(orderApi(), `/api/blockchain/order/${orderId}`, user);
  expect(res.status).toBe(200);
  expect(res.body.orderId).toBe(orderId);
  return res.body.records as RecordView[];
}

async function paymentRecords(paymentId: string, user: AuthUser = customer) {
  const res = await getAs(paymentApi(), `/api/blockchain/payment/${paymentId}`, user);
  expect(res.status).toBe(200);
  return res.body.records as RecordView[];
}

function expectMined(record: RecordView) {
  expect(record.receipt.proof).toEqual(expect.any(Array));
  expect(record.receipt.root).toMatch(/^0x[0-9a-f]{64}$/);
  expect(record.receipt.txHash).toMatch(/^0x[0-9a-f]{64}$/);
  expect(record.receipt.blockNumber).toBeGreaterThan(0);
  expect(record.receipt.chainId).toBe(31337);
  expect(record.receipt.contractAddress?.toLowerCase()).toBe(chain.contractAddress.toLowerCase());
}

describe('anchoring of orders and payments (real saga, real chain)', () => {
  let orderId: string;
  let paymentId: string;

  beforeAll(async () => {
    ({ orderId, paymentId } = await confirmedOrder());
    await flush();
  });

  it('anchors every status change of a confirmed order, and each record verifies on chain', async () => {
    const records = await orderRecords(orderId);
    expect(records.map((r) => JSON.parse(r.receipt.canonical).payload.to)).toEqual([
      'PAYMENT_PROCESSING',
      'CONFIRMED',
    ]);
    for (const r of records) {
      expect(r).toMatchObject({ recordType: 'order', recordId: orderId, status: 'VERIFIED' });
      expectMined(r);
    }
    const confirmed = JSON.parse(records[1].receipt.canonical).payload;
    expect(confirmed).toMatchObject({
      orderId,
      userId: customer.id,
      from: 'PAYMENT_PROCESSING',
      paymentId,
      total: { amount: 1250, currency: 'USD' },
    });
  });

  it('anchors the completed payment; admin may read it, another customer gets 404', async () => {
    const records = await paymentRecords(paymentId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      recordType: 'payment',
      recordId: paymentId,
      sourceId: `${paymentId}:completed`,
      status: 'VERIFIED',
    });
    expectMined(records[0]);
    expect(JSON.parse(records[0].receipt.canonical).payload).toMatchObject({
      status: 'COMPLETED',
      amount: { amount: 1250, currency: 'USD' },
    });
    expect((await paymentRecords(paymentId, admin))[0].status).toBe('VERIFIED');

    const other = await getAs(paymentApi(), `/api/blockchain/payment/${paymentId}`, stranger);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('NOT_FOUND');
    const otherOrder = await getAs(orderApi(), `/api/blockchain/order/${orderId}`, stranger);
    expect(otherOrder.status).toBe(404);
    expect(
      (await orderApi().get(`/api/blockchain/order/${orderId}`)).status, // no token
    ).toBe(401);
  });

  it("verify: payment's own tx, an order tx through the payment service (fallback), unknown → 404", async () => {
    const paymentTx = (await paymentRecords(paymentId))[0].receipt.txHash!;
    const own = await getAs(paymentApi(), `/api/blockchain/verify/${paymentTx}`, customer);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ service: 'payment', txHash: paymentTx, chainId: 31337 });
    expect(own.body.records.map((r: RecordView) => [r.recordId, r.status])).toContainEqual([
      paymentId,
      'VERIFIED',
    ]);

    const orderTx = (await orderRecords(orderId))[1].receipt.txHash!;
    const viaPayment = await getAs(paymentApi(), `/api/blockchain/verify/${orderTx}`, customer);
    expect(viaPayment.status).toBe(200);
    expect(viaPayment.body.service).toBe('order');
    expect(viaPayment.body.txHash).toBe(orderTx);
    expect(viaPayment.body.records.length).toBeGreaterThan(0);
    for (const r of viaPayment.body.records as RecordView[]) {
      expect(r).toMatchObject({ recordId: orderId, status: 'VERIFIED' });
    }

    // Another customer sees none of these records: 404 on both services.
    for (const tx of [paymentTx, orderTx]) {
      const res = await getAs(paymentApi(), `/api/blockchain/verify/${tx}`, stranger);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
    const adminView = await getAs(paymentApi(), `/api/blockchain/verify/${orderTx}`, admin);
    expect(adminView.status).toBe(200);

    const unknown = await getAs(
      paymentApi(),
      `/api/blockchain/verify/0x${randomBytes(32).toString('hex')}`,
      customer,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a bad transaction hash or id is a 400 in the common shape', async () => {
    for (const bad of ['0x1234', `0x${'g'.repeat(64)}`, `${'a'.repeat(64)}`]) {
      for (const api of [paymentApi, orderApi]) {
        const res = await api()
          .get(`/api/blockchain/verify/${bad}`)
          .set('Authorization', bearer(customer));
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
        expect(res.body.error.requestId).toEqual(expect.any(String));
      }
    }
    const res = await getAs(orderApi(), '/api/blockchain/order/not-a-uuid', customer);
    expect(res.status).toBe(400);
  });

  it('a refund is anchored, and a row changed directly in SQL reports tampered', async () => {
    const { orderId: id, paymentId: pid } = await confirmedOrder();
    const cancel = await orderApi()
      .put(`/api/orders/${id}/cancel`)
      .set('Authorization', bearer(customer))
      .send({ reason: 'changed my mind' });
    expect(cancel.status).toBe(200);
    await eventually(
      async () => (await saga.paymentRow(id))?.status === 'REFUNDED',
      'payment refunded',
    );
    await flush();
    const payment = await paymentRecords(pid);
    expect(payment.map((r) => JSON.parse(r.receipt.canonical).payload.status)).toEqual([
      'COMPLETED',
      'REFUNDED',
    ]);
    expect(payment.map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED']);
    const order = await orderRecords(id);
    expect(order.map((r) => JSON.parse(r.receipt.canonical).payload.to)).toEqual([
      'PAYMENT_PROCESSING',
      'CONFIRMED',
      'CANCELLED',
    ]);
    expect(order.every((r) => r.status === 'VERIFIED')).toBe(true);

    // Someone edits the database behind the services' backs.
    await saga.payment.pool.query(
      'UPDATE payments SET amount_cents = amount_cents + 100000 WHERE id = $1',
      [pid],
    );
    await saga.order.pool.query(
      `UPDATE order_status_history SET reason = 'edited' WHERE order_id = $1 AND to_status = 'CONFIRMED'`,
      [id],
    );
    const tamperedPayment = await paymentRecords(pid);
    expect(tamperedPayment[0]).toMatchObject({ status: 'TAMPERED' });
    expect(tamperedPayment[0].reason).toMatch(/changed/);
    const tamperedOrder = await orderRecords(id);
    expect(tamperedOrder.map((r) => r.status)).toEqual(['VERIFIED', 'TAMPERED', 'VERIFIED']);

    // The verify route re-checks against the database too.
    const tx = tamperedOrder[1].receipt.txHash!;
    const res = await getAs(paymentApi(), `/api/blockchain/verify/${tx}`, customer);
    expect(res.status).toBe(200);
    const mine = (res.body.records as RecordView[]).find(
      (r) => r.sourceId === tamperedOrder[1].sourceId,
    );
    expect(mine?.status).toBe('TAMPERED');
  });

  it('a chain outage never blocks the saga: records stay pending, then catch up', async () => {
    await chain.pause();
    let id: string;
    try {
      ({ orderId: id } = await confirmedOrder());
      const records = await orderRecords(id);
      expect(records.map((r) => r.status)).toEqual(['PENDING', 'PENDING']);
      expect(records[0].receipt.txHash).toBeNull();
      const status = await getAs(orderApi(), '/api/blockchain/status', admin);
      expect(status.status).toBe(200);
      expect(status.body.service).toBe('order');
      expect(status.body.pendingRecords).toBeGreaterThanOrEqual(2);
    } finally {
      await chain.resume();
    }
    await flush();
    const records = await orderRecords(id);
    expect(records.map((r) => r.status)).toEqual(['VERIFIED', 'VERIFIED']);
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
      const placed = await request(order.app)
        .post('/api/orders')
        .set('Authorization', bearer(customer))
        .send({ items: [{ productId, quantity: 1 }], shippingAddress: address });
      expect(placed.status).toBe(201);
      const cancelled = await request(order.app)
        .put(`/api/orders/${placed.body.id}/cancel`)
        .set('Authorization', bearer(customer))
        .send({});
      expect(cancelled.status).toBe(200);
      const { rows } = await saga.order.pool.query(
        `SELECT (SELECT count(*) FROM order_status_history WHERE order_id = $1)::int AS changes,
                (SELECT count(*) FROM anchor_records WHERE record_id = $1::text)::int AS anchors`,
        [placed.body.id],
      );
      expect(rows[0]).toEqual({ changes: 2, anchors: 0 });

      for (const [app, path] of [
        [order.app, `/api/blockchain/order/${placed.body.id}`],
        [order.app, `/api/blockchain/verify/0x${'ab'.repeat(32)}`],
        [payment.app, `/api/blockchain/verify/0x${'ab'.repeat(32)}`],
        [payment.app, '/api/blockchain/status'],
      ] as const) {
        const res = await request(app).get(path).set('Authorization', bearer(admin));
        expect(res.status).toBe(503);
        expect(res.body.error).toMatchObject({ code: 'ANCHORING_NOT_CONFIGURED' });
        expect(res.body.error.message).toMatch(/not configured/);
      }
    } finally {
      await order.stop();
      await payment.stop();
      await bus.close();
    }
  });
});
