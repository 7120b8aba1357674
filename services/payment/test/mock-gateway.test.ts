import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { InMemoryEventBus, createEvent } from '@ecom/common/bus';
import { runMigrations } from '@ecom/common/postgres';
import {
  createTestPostgres,
  eventually,
  spyOnEvents,
  type TestPostgres,
  testPool,
} from '@ecom/test-support';
import type {
  ChargeRequest,
  ChargeResult,
  PaymentGateway,
  RefundRequest,
  RefundResult,
} from '../src/gateway/gateway';
import { IDEMPOTENCY_KEY_REUSED, MockPaymentGateway } from '../src/gateway/mock-gateway';
import {
  InMemoryMockGatewayLedger,
  PgMockGatewayLedger,
  type MockGatewayLedger,
} from '../src/gateway/mock-ledger';
import { paymentService, type RunningPaymentService } from '../src/service';
import { paymentMigrations } from '../src/store/migrations';
import { STARTUP_TIMEOUT_MS, testConfig } from './support';

const charge = (idempotencyKey: string, amount = 1000, token = 'tok_visa'): ChargeRequest => ({
  idempotencyKey,
  amount,
  currency: 'USD',
  method: 'card',
  token,
});

const refund = (idempotencyKey: string, chargeId: string, amount: number): RefundRequest => ({
  idempotencyKey,
  chargeId,
  amount,
  currency: 'USD',
});

function chargeIdOf(result: ChargeResult): string {
  if (!result.ok) throw new Error(`expected a charge, got ${result.code}`);
  return result.chargeId;
}

describe('mock payment gateway keys (real PostgreSQL)', () => {
  let db: TestPostgres;
  /** One pool per "process": a gateway on a pool that was ended is a process that is gone. */
  const pools: Pool[] = [];
  const newPool = (max = 4) => {
    const pool = testPool(db.url, max);
    pools.push(pool);
    return pool;
  };
  /** The mock gateway of a freshly started process: nothing in memory, its keys in payment_db. */
  const freshGateway = (pool = newPool()) =>
    new MockPaymentGateway({ ledger: new PgMockGatewayLedger(pool) });

  beforeAll(async () => {
    db = await createTestPostgres('payment_mock_gateway');
    await runMigrations(newPool(), paymentMigrations);
  }, STARTUP_TIMEOUT_MS);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await db?.cleanup();
  });

  describe('the adapter on its PostgreSQL ledger', () => {
    it('answers a key sent again after a restart with the first charge; money moved once', async () => {
      const key = `${randomUUID()}:1`;
      const firstPool = newPool();
      const first = await freshGateway(firstPool).charge(charge(key));
      await firstPool.end(); // the process that charged is gone

      const later = freshGateway();
      expect(await later.charge(charge(key))).toEqual(first);
      expect(await later.chargesMade({ idempotencyKey: key })).toBe(1);
      const [kept] = await later.ledger.charges({ idempotencyKey: key });
      expect(kept).toMatchObject({
        amount: 1000,
        currency: 'USD',
        result: { ok: true, chargeId: chargeIdOf(first) },
        refunded: 0,
        requests: 2,
      });
      expect(JSON.stringify(kept)).not.toContain('tok_visa'); // kept as a fingerprint only
    });

    it('replays a decline for its key too, and never charges under it later', async () => {
      const key = `${randomUUID()}:1`;
      const declined = await freshGateway().charge(charge(key, 1000, 'tok_chargeDeclined'));
      expect(declined).toMatchObject({ ok: false, code: 'card_declined' });
      const again = freshGateway();
      expect(await again.charge(charge(key, 1000, 'tok_chargeDeclined'))).toEqual(declined);
      expect(await again.chargesMade({ idempotencyKey: key })).toBe(0);
    });

    it('refuses a key sent again with another amount or card, charging nothing more', async () => {
      const key = `${randomUUID()}:1`;
      const first = await freshGateway().charge(charge(key, 1000));
      const gw = freshGateway();
      for (const other of [charge(key, 2000), charge(key, 1000, 'tok_mastercard')]) {
        expect(await gw.charge(other)).toEqual({
          ok: false,
          code: IDEMPOTENCY_KEY_REUSED,
          reason: expect.stringMatching(/same parameters/),
        });
      }
      // The key still answers its own request with the first charge.
      expect(await gw.charge(charge(key, 1000))).toEqual(first);
      const kept = await gw.ledger.charges({ idempotencyKey: key });
      expect(kept).toHaveLength(1);
      expect(kept[0]).toMatchObject({ amount: 1000, result: first, requests: 4 });
    });

    it('keeps one charge when the first requests with one key arrive together', async () => {
      const key = `${randomUUID()}:1`;
      const gateways = Array.from({ length: 6 }, () => freshGateway(newPool(1)));
      const results = await Promise.all(gateways.map((gw) => gw.charge(charge(key))));
      expect(new Set(results.map(chargeIdOf)).size).toBe(1);
      expect(await gateways[0]!.chargesMade({ idempotencyKey: key })).toBe(1);
      expect((await gateways[0]!.ledger.charges({ idempotencyKey: key }))[0]!.requests).toBe(6);
    });

    it('answers a refund key sent again after a restart with the first refund; refunded once', async () => {
      const chargeKey = `${randomUUID()}:1`;
      const chargeId = chargeIdOf(await freshGateway().charge(charge(chargeKey, 1000)));
      const key = `${randomUUID()}:refund:1`;
      const first = await freshGateway().refund(refund(key, chargeId, 600));
      expect(first).toMatchObject({ ok: true });

      const later = freshGateway();
      expect(await later.refund(refund(key, chargeId, 600))).toEqual(first);
      expect(await later.refund(refund(key, chargeId, 700))).toMatchObject({
        ok: false,
        code: IDEMPOTENCY_KEY_REUSED,
      });
      expect(await later.refundsMade({ chargeId })).toBe(1);
      const [charged] = await later.ledger.charges({ idempotencyKey: chargeKey });
      expect(charged!.refunded).toBe(600);
      // What is left is 400: a new key for 401 is refused, for 400 accepted.
      expect(await later.refund(refund(`${randomUUID()}:refund:2`, chargeId, 401))).toMatchObject({
        ok: false,
        code: 'amount_too_large',
      });
      expect(await later.refund(refund(`${randomUUID()}:refund:3`, chargeId, 400))).toMatchObject({
        ok: true,
      });
    });

    it('never lets concurrent refunds of one charge, from separate processes, sum above it', async () => {
      const chargeId = chargeIdOf(await freshGateway().charge(charge(`${randomUUID()}:1`, 1000)));
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          freshGateway(newPool(1)).refund(refund(`${randomUUID()}:refund:${i}`, chargeId, 300)),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(3);
      expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.code)).toEqual([
        'amount_too_large',
        'amount_too_large',
      ]);
      expect(await freshGateway().refundsMade({ chargeId })).toBe(3);
    });
  });

  describe.each<[string, () => MockGatewayLedger]>([
    ['in memory', () => new InMemoryMockGatewayLedger()],
    ['in PostgreSQL', () => new PgMockGatewayLedger(newPool())],
  ])('the same answers with its keys %s', (_label, ledger) => {
    it('charges, replays, refuses a reused key, refunds at most the charge', async () => {
      const gw = new MockPaymentGateway({ ledger: ledger() });
      const order = randomUUID();
      const a = await gw.charge(charge(`${order}:1`, 500));
      expect(await gw.charge(charge(`${order}:1`, 500))).toEqual(a);
      expect(await gw.charge(charge(`${order}:1`, 501))).toMatchObject({
        ok: false,
        code: IDEMPOTENCY_KEY_REUSED,
      });
      expect(gw.callsFor(`${order}:1`)).toBe(3);
      expect(await gw.charge(charge(`${order}:2`, 500, 'tok_nope'))).toMatchObject({
        ok: false,
        code: 'invalid_token',
      });
      expect(await gw.chargesMade({ keyPrefix: `${order}:` })).toBe(1);
      const chargeId = chargeIdOf(a);
      expect(await gw.refund(refund(`${order}:r1`, chargeId, 300))).toMatchObject({ ok: true });
      expect(await gw.refund(refund(`${order}:r2`, chargeId, 201))).toMatchObject({
        ok: false,
        code: 'amount_too_large',
      });
      expect(await gw.refund(refund(`${order}:r3`, 'ch_nope', 1))).toMatchObject({
        ok: false,
        code: 'unknown_charge',
      });
      expect(await gw.refundsMade({ keyPrefix: `${order}:` })).toBe(1);
    });
  });
});

/**
 * The mock gateway behind a connection that loses its answers: the provider charges (or
 * refunds), then the answer never reaches the service, as when the payment process dies between
 * the gateway call and recording the outcome. The claim stays PENDING, the money has moved.
 */
class AnswerLosingGateway implements PaymentGateway {
  readonly lost: Array<ChargeResult | RefundResult> = [];
  losing = false;
  constructor(readonly inner: MockPaymentGateway) {}

  private async maybeLose<T extends ChargeResult | RefundResult>(answer: Promise<T>): Promise<T> {
    const result = await answer;
    if (!this.losing) return result;
    this.lost.push(result);
    throw new Error('socket hang up (the gateway answered, the service never heard)');
  }

  charge(request: ChargeRequest) {
    return this.maybeLose(this.inner.charge(request));
  }

  refund(request: RefundRequest) {
    return this.maybeLose(this.inner.refund(request));
  }
}

describe('payment restarted between the gateway call and recording its outcome', () => {
  let db: TestPostgres;
  let bus: InMemoryEventBus;
  let pool: Pool;
  let spy: Awaited<ReturnType<typeof spyOnEvents>>;
  /** The mock provider as tests see it: its keys in payment_db, read through their own pool. */
  let provider: MockPaymentGateway;
  const running: RunningPaymentService[] = [];
  const userId = 'user-alice';

  beforeAll(async () => {
    db = await createTestPostgres('payment_mock_gateway_restart');
    bus = new InMemoryEventBus({ retry: { baseDelayMs: 10, maxAttempts: 2 } });
    spy = await spyOnEvents(bus, ['payment.completed', 'payment.refunded']);
    pool = testPool(db.url, 2);
    provider = new MockPaymentGateway({ ledger: new PgMockGatewayLedger(pool) });
  }, STARTUP_TIMEOUT_MS);
  // Each test starts its own processes: none may still consume the next test's events.
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop().catch(() => undefined);
  });
  afterAll(async () => {
    await bus?.close();
    await pool?.end();
    await db?.cleanup();
  });

  /** A payment process whose gateway loses answers on demand; it stops with `stop()`. */
  async function firstProcess() {
    const ledgerPool = testPool(db.url, 2);
    const gateway = new AnswerLosingGateway(
      new MockPaymentGateway({ ledger: new PgMockGatewayLedger(ledgerPool) }),
    );
    const service = await paymentService.start({
      config: testConfig(db.url, { OUTBOX_POLL_INTERVAL_MS: '20' }),
      bus,
      options: { gateway },
    });
    running.push(service);
    return {
      service,
      gateway,
      stop: async () => {
        await service.stop();
        await ledgerPool.end();
      },
    };
  }

  /** A new payment process on the same database, as `npm start` builds it: the default gateway. */
  async function restartedProcess() {
    const service = await paymentService.start({
      config: testConfig(db.url, {
        OUTBOX_POLL_INTERVAL_MS: '20',
        RECONCILE_INTERVAL_MS: '50',
        RECONCILE_AFTER_MS: '0',
      }),
      bus,
    });
    running.push(service);
    return service;
  }

  const paymentOf = async (orderId: string) =>
    (await pool.query('SELECT * FROM payments WHERE order_id = $1', [orderId])).rows[0] as {
      id: string;
      status: string;
      charge_id: string | null;
      refunded_cents: string;
    };

  const waitPayment = (orderId: string, status: string) =>
    eventually(async () => (await paymentOf(orderId))?.status === status, {
      what: `payment of ${orderId} ${status}`,
    });

  function orderCreated(orderId: string, amount: number) {
    return createEvent('order-service', 'order.created', {
      orderId,
      userId,
      items: [{ productId: 'p1', quantity: 1, unitPrice: amount, name: 'Thing' }],
      total: { amount, currency: 'USD' },
      payment: { method: 'card', token: 'tok_visa' },
    });
  }
  const reserved = (orderId: string) =>
    createEvent('product-service', 'inventory.reserved', {
      orderId,
      items: [{ productId: 'p1', quantity: 1 }],
    });

  it('charges once at the gateway: the new process finishes the claim with the first charge', async () => {
    const orderId = randomUUID();
    const key = `${orderId}:1`;
    const first = await firstProcess();
    first.gateway.losing = true;
    await bus.publish(orderCreated(orderId, 4200));
    await bus.publish(reserved(orderId));
    await eventually(() => first.gateway.lost.length > 0, { what: 'the charge made' });
    const charged = chargeIdOf(first.gateway.lost[0] as ChargeResult);
    await eventually(
      async () =>
        (
          await pool.query(
            "SELECT 1 FROM payment_attempts WHERE idempotency_key = $1 AND status = 'PENDING'",
            [key],
          )
        ).rowCount === 1,
      { what: 'the claim left pending' },
    );
    expect((await paymentOf(orderId)).status).toBe('PROCESSING');
    await first.stop();

    const restarted = await restartedProcess(); // its reconciler asks again with the same key
    await waitPayment(orderId, 'COMPLETED');
    const payment = await paymentOf(orderId);
    expect(payment.charge_id).toBe(charged);
    expect(await restarted.mockGateway!.chargesMade({ keyPrefix: `${orderId}:` })).toBe(1);
    expect(await provider.chargesMade({ keyPrefix: `${orderId}:` })).toBe(1);
    const [kept] = await provider.ledger.charges({ idempotencyKey: key });
    expect(kept).toMatchObject({ amount: 4200, result: { ok: true, chargeId: charged } });
    expect(kept!.requests).toBeGreaterThanOrEqual(2); // asked again, charged once
    await eventually(() => spy.of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
  });

  it('refunds once at the gateway: the new process finishes the refund with the first refund', async () => {
    const orderId = randomUUID();
    const first = await firstProcess();
    await bus.publish(orderCreated(orderId, 3000));
    await bus.publish(reserved(orderId));
    await waitPayment(orderId, 'COMPLETED');
    const { id: paymentId, charge_id: chargeId } = await paymentOf(orderId);

    first.gateway.losing = true;
    await bus.publish(
      createEvent('order-service', 'order.cancelled', {
        orderId,
        userId,
        reason: 'customer',
        previousStatus: 'CONFIRMED',
        items: [],
      }),
    );
    await eventually(() => first.gateway.lost.length > 0, { what: 'the refund made' });
    const lost = first.gateway.lost[0] as RefundResult;
    if (!lost.ok) throw new Error(`expected a refund, got ${lost.code}`);
    const pendingRefund = () =>
      pool.query("SELECT 1 FROM refunds WHERE payment_id = $1 AND status = 'PENDING'", [paymentId]);
    await eventually(async () => (await pendingRefund()).rowCount === 1, {
      what: 'the refund left pending',
    });
    await first.stop();

    await restartedProcess();
    await waitPayment(orderId, 'REFUNDED');
    const { rows } = await pool.query(
      'SELECT status, gateway_refund_id, amount_cents FROM refunds WHERE payment_id = $1',
      [paymentId],
    );
    expect(rows).toEqual([
      { status: 'SUCCEEDED', gateway_refund_id: lost.refundId, amount_cents: '3000' },
    ]);
    expect(await provider.refundsMade({ chargeId: chargeId! })).toBe(1);
    const [charged] = await provider.ledger.charges({ idempotencyKey: `${orderId}:1` });
    expect(charged!.refunded).toBe(3000);
    await eventually(() => spy.of('payment.refunded', orderId).length === 1, {
      what: 'payment.refunded',
    });
  });
});
