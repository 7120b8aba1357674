import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Client, type Pool } from 'pg';
import { InMemoryEventBus, causedBy, createEvent } from '@ecom/common/bus';
import type { AuthUser } from '@ecom/common/auth';
import type { ResponseSpec } from '@ecom/common/http';
import {
  createTestPostgres,
  eventually,
  expectReady,
  recordingAnchor,
  requestsAs,
  spyOnEvents,
  type TestPostgres,
  queryText,
  testPool,
} from '@ecom/test-support';
import { paymentSnapshot } from '../src/store/payment-record';
import { paymentStore } from '../src/store/payment-store';
import type { ChargeRequest } from '../src/gateway/gateway';
import { MockPaymentGateway } from '../src/gateway/mock-gateway';
import { PgMockGatewayLedger } from '../src/gateway/mock-ledger';
import { paymentApi } from '../src/http/api';
import { paymentService, type RunningPaymentService } from '../src/service';
import { STARTUP_TIMEOUT_MS, testConfig } from './support';

/** The mock gateway with test controls: hold a key's charge until released, or be unreachable. */
class ControlledGateway extends MockPaymentGateway {
  readonly held = new Map<string, Promise<void>>();
  unreachable = false;

  hold(key: string): () => void {
    let release!: () => void;
    this.held.set(key, new Promise<void>((resolve) => (release = resolve)));
    return release;
  }

  override async charge(request: ChargeRequest) {
    if (this.unreachable) {
      this.record('charge', request);
      throw new Error('connect ECONNREFUSED gateway');
    }
    await this.held.get(request.idempotencyKey);
    return super.charge(request);
  }
}

const alice = { id: 'user-alice', role: 'customer' as const };
const bob = { id: 'user-bob', role: 'customer' as const };
const admin = { id: 'user-admin', role: 'admin' as const };

/** Fails the test when an answer does not match the schema its operation declares. */
function matchesSpec(operation: keyof typeof paymentApi.operations, body: unknown) {
  const { schema, list }: ResponseSpec = paymentApi.operations[operation].response;
  const items = list ? (body as { items: unknown[] }).items : [body];
  for (const item of items) {
    const { error } = schema!.validate(item, { presence: 'required' });
    expect(error?.message).toBeUndefined();
  }
}

/** Every event payment publishes. */
const PAYMENT_EVENTS = [
  'payment.initiated',
  'payment.completed',
  'payment.failed',
  'payment.refunded',
];

describe('payment service (real PostgreSQL, mock gateway)', () => {
  let db: TestPostgres;
  let bus: InMemoryEventBus;
  let service: RunningPaymentService;
  let gateway: ControlledGateway;
  let pool: Pool;
  let spy: Awaited<ReturnType<typeof spyOnEvents>>;
  const anchor = recordingAnchor(paymentSnapshot);
  const api = () => request(service.app);
  const asUser = (user: AuthUser) => requestsAs(api, user);
  /** POST /api/payments/initiate as `user`. */
  const CATCH_UP_MS = 3000;
  const initiate = (user: AuthUser, body: Record<string, unknown>) =>
    asUser(user).post('/api/payments/initiate').send(body);

  beforeAll(async () => {
    db = await createTestPostgres('payment_component');
    bus = new InMemoryEventBus({ retry: { baseDelayMs: 10, maxAttempts: 3 } });
    spy = await spyOnEvents(bus, PAYMENT_EVENTS);
    pool = testPool(db.url, 4);
    pool.on('error', () => undefined); // a connection still closing when the cleanup terminates it
    // The provider's keys in payment_db, as the service keeps them by default.
    gateway = new ControlledGateway({ ledger: new PgMockGatewayLedger(pool) });
    // Initiate's wait for the saga, short enough for the tests that see it run out.
    const config = testConfig(db.url, {
      OUTBOX_POLL_INTERVAL_MS: '20',
      PAYMENT_CATCH_UP_MS: String(CATCH_UP_MS),
    });
    service = await paymentService.start({ config, bus, options: { gateway, anchor } });
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    await service?.stop();
    await bus?.close();
    await pool?.end();
    await db?.cleanup();
  });

  const of = (type: string, orderId: string) => spy.of(type, orderId);

  function orderCreated(orderId: string, token: string | null, amount = 5000, userId = alice.id) {
    return createEvent('order-service', 'order.created', {
      orderId,
      userId,
      items: [{ productId: 'p1', quantity: 1, unitPrice: amount, name: 'Thing' }],
      total: { amount, currency: 'USD' },
      payment: token ? { method: 'card', token } : null,
    });
  }
  const reserved = (orderId: string) =>
    createEvent('product-service', 'inventory.reserved', {
      orderId,
      items: [{ productId: 'p1', quantity: 1 }],
    });

  const paymentOf = async (orderId: string) =>
    (await pool.query('SELECT * FROM payments WHERE order_id = $1', [orderId])).rows[0] as
      { id: string; status: string; attempts: number; refunded_cents: string } | undefined;

  async function waitPayment(orderId: string, status: string) {
    let row: Awaited<ReturnType<typeof paymentOf>>;
    await eventually(
      async () => {
        row = await paymentOf(orderId);
        return row?.status === status;
      },
      { what: `payment of ${orderId} ${status}` },
    );
    return row!;
  }

  async function paidOrder(amount = 1000, userId = alice.id) {
    const orderId = randomUUID();
    await bus.publish(orderCreated(orderId, 'tok_visa', amount, userId));
    await bus.publish(reserved(orderId));
    const payment = await waitPayment(orderId, 'COMPLETED');
    return { orderId, paymentId: payment!.id };
  }

  describe('charging from saga events', () => {
    it("sends the payment's last write of each step through anchoring's write, and its reads on to record", async () => {
      // The recording anchor sends writes alone; a real one adds the payment's lock and reads
      // to their round trip, and record uses them only when nothing was sent after
      // (common/test/anchoring). What matters here: which statements go that way, and that
      // the reads of each reach record() unchanged.
      // order.created handled first, as it usually is: it creates the payment.
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, 'tok_visa', 2500));
      await waitPayment(orderId, 'PENDING');
      await bus.publish(reserved(orderId));
      const paymentId = (await waitPayment(orderId, 'COMPLETED')).id;
      await eventually(
        () => anchor.calls.records.filter((r) => r.ref.recordId === paymentId).length === 3,
        { what: 'three records of the payment' },
      );
      const ref = { recordType: 'payment', recordId: paymentId };
      const writes = anchor.calls.writes.filter((w) => w.ref.recordId === paymentId);
      expect(writes.map((w) => [w.ref, w.text.trim().slice(0, 15)])).toEqual([
        [ref, 'INSERT INTO pay'], // order.created: the payment created with its facts
        [ref, 'WITH attempt AS'], // inventory.reserved: the charge claimed
        [ref, 'WITH locked AS '], // the gateway's answer: settled, COMPLETED
      ]);
      const records = anchor.calls.records.filter((r) => r.ref.recordId === paymentId);
      // Each record got the very reads its write answered.
      expect(records.map((r) => r.ref)).toEqual([ref, ref, ref]);
      records.forEach((r, i) => expect(r.prefetched).toBe(writes[i]!.reads));
    });

    it('charges tok_visa once after reservation: payment.initiated then payment.completed, anchored', async () => {
      const orderId = randomUUID();
      const created = orderCreated(orderId, 'tok_visa', 4321);
      await bus.publish(created);
      await eventually(async () => (await paymentOf(orderId))?.status === 'PENDING', {
        what: 'pending record',
      });
      expect(gateway.callsFor(`${orderId}:1`)).toBe(0); // never before the reservation
      // As product would: the reservation carries the order's correlation id.
      await bus.publish(
        causedBy(created, 'product-service', 'inventory.reserved', { orderId, items: [] }),
      );
      const payment = await waitPayment(orderId, 'COMPLETED');
      await eventually(() => of('payment.completed', orderId).length === 1, {
        what: 'payment.completed',
      });
      expect(of('payment.initiated', orderId)[0]!.data).toEqual({
        paymentId: payment.id,
        orderId,
        amount: { amount: 4321, currency: 'USD' },
        attempt: 1,
        source: 'order',
      });
      expect(of('payment.completed', orderId)[0]!.data).toEqual({
        paymentId: payment.id,
        orderId,
        amount: { amount: 4321, currency: 'USD' },
      });
      expect(of('payment.completed', orderId)[0]!.metadata.correlationId).toBe(
        created.metadata.correlationId,
      );
      expect(gateway.callsFor(`${orderId}:1`)).toBe(1);
      // Every change of the payment is an entry: its creation, the attempt claimed, its outcome.
      const entries = anchor.of(payment.id);
      expect(entries.map((e) => e.sourceId)).toEqual(['created', 'attempt:1', 'attempt:1']);
      expect(entries.map((e) => (e.state as { status: string }).status)).toEqual([
        'PENDING',
        'PROCESSING',
        'COMPLETED',
      ]);
      expect(entries[2]).toMatchObject({
        recordType: 'payment',
        change: { kind: 'attempt', status: 'SUCCEEDED' },
        state: { amount: 4321, currency: 'USD', status: 'COMPLETED' },
      });

      const view = await asUser(alice).get(`/api/payments/${payment.id}`);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({
        id: payment.id,
        orderId,
        status: 'COMPLETED',
        amount: { amount: 4321, currency: 'USD' },
        refunded: { amount: 0 },
        attempts: [{ attempt: 1, source: 'order', status: 'SUCCEEDED' }],
      });
      expect(JSON.stringify(view.body)).not.toContain('tok_visa');
      matchesSpec('getPayment', view.body);
    });

    it('writes the facts an event brings and the status they lead to in one UPDATE', async () => {
      const query = jest.spyOn(Client.prototype, 'query');
      let orderId: string;
      let sent: string[];
      try {
        // With no card the reservation leads to AWAITING_PAYMENT; with one, to a charge. Each
        // reservation comes after its order.created was handled (the bus does not order them).
        const waiting = randomUUID();
        await bus.publish(orderCreated(waiting, null));
        await waitPayment(waiting, 'PENDING');
        await bus.publish(reserved(waiting));
        await waitPayment(waiting, 'AWAITING_PAYMENT');
        orderId = randomUUID();
        await bus.publish(orderCreated(orderId, 'tok_visa', 1500));
        await waitPayment(orderId, 'PENDING');
        await bus.publish(reserved(orderId));
        await waitPayment(orderId, 'COMPLETED');
      } finally {
        // Read before the restore, which forgets the calls.
        sent = query.mock.calls.map(([text]) => queryText(text));
        query.mockRestore();
      }
      const paymentUpdates = sent.filter((q) => /\bUPDATE payments SET/.test(q));
      const reservations = paymentUpdates.filter((q) => q.includes('reserved ='));
      expect(reservations).toHaveLength(2);
      expect(reservations[0]).toMatch(/status = /);
      expect(reservations[1]).toMatch(/status = .*attempts = |attempts = .*status = /s);
      // The charge's update is the statement that adds its attempt.
      expect(reservations[1]).toMatch(/INSERT INTO payment_attempts/);
      // The provider's answer is recorded by a transaction that opens with the payment's lock.
      expect(
        sent.filter((q) => /^BEGIN;\s*WITH locked AS \(SELECT \* FROM payments/.test(q)),
      ).toHaveLength(1);

      // order.created, the order's first event, creates its payment with its facts in one
      // statement (no status follows from them): no UPDATE of their own.
      expect(paymentUpdates.filter((q) => q.includes('order_known ='))).toHaveLength(0);
      // (It opens the transaction: it goes with BEGIN, its values written in.)
      const creations = sent.filter((q) => /INSERT INTO payments \(id, order_id, user_id/.test(q));
      expect(creations).toHaveLength(2);
      expect(creations.every((q) => /order_known/.test(q))).toBe(true);
      expect((await paymentOf(orderId))?.status).toBe('COMPLETED');
    });

    it('charges once when the events arrive in the other order and are redelivered', async () => {
      const orderId = randomUUID();
      const r = reserved(orderId);
      const c = orderCreated(orderId, 'tok_visa');
      await bus.publish(r);
      await bus.publish(r);
      await bus.publish(c);
      await bus.publish(c);
      // Same business facts under new event ids (a republished order.created) change nothing either.
      await bus.publish(orderCreated(orderId, 'tok_visa'));
      await bus.publish(reserved(orderId));
      await waitPayment(orderId, 'COMPLETED');
      await bus.idle();
      await new Promise((res) => setTimeout(res, 100));
      expect(gateway.calls.filter((call) => call.idempotencyKey.startsWith(orderId))).toHaveLength(
        1,
      );
      expect(of('payment.completed', orderId)).toHaveLength(1);
      expect((await paymentOf(orderId))!.attempts).toBe(1);
    });

    it('fails a declined card given with the order for good (retryable=false) and keeps the reason', async () => {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, 'tok_chargeDeclined'));
      await bus.publish(reserved(orderId));
      await waitPayment(orderId, 'FAILED');
      const failed = await eventually(() => of('payment.failed', orderId)[0], {
        what: 'payment.failed',
      });
      expect(failed.data).toMatchObject({
        orderId,
        code: 'card_declined',
        reason: 'Your card was declined',
        retryable: false,
      });
      const view = await asUser(alice).get(`/api/payments/order/${orderId}`);
      expect(view.body).toMatchObject({ status: 'FAILED', failure: { code: 'card_declined' } });
      expect(of('payment.completed', orderId)).toHaveLength(0);
    });

    it('keeps no card token once an attempt is settled, charged or declined', async () => {
      const charged = randomUUID();
      const declined = randomUUID();
      await bus.publish(orderCreated(charged, 'tok_visa'));
      await bus.publish(orderCreated(declined, 'tok_chargeDeclined'));
      await bus.publish(reserved(charged));
      await bus.publish(reserved(declined));
      await waitPayment(charged, 'COMPLETED');
      await waitPayment(declined, 'FAILED');
      const { rows } = await pool.query(
        `SELECT p.token AS payment_token, a.token AS attempt_token, a.status
           FROM payments p JOIN payment_attempts a ON a.payment_id = p.id
          WHERE p.order_id = ANY($1)`,
        [[charged, declined]],
      );
      expect(rows.map((r) => r.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
      for (const row of rows) {
        expect(row.payment_token).toBeNull();
        expect(row.attempt_token).toBeNull();
      }
    });

    it.each([
      ['tok_insufficientFunds', 'insufficient_funds'],
      ['tok_madeUp', 'invalid_token'],
    ])('fails %s with %s', async (token, code) => {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, token));
      await bus.publish(reserved(orderId));
      const failed = await eventually(() => of('payment.failed', orderId)[0], {
        what: 'payment.failed',
      });
      expect(failed.data).toMatchObject({ code, retryable: false });
    });

    it('charges nothing when inventory is rejected, before or after order.created', async () => {
      for (const rejectFirst of [false, true]) {
        const orderId = randomUUID();
        const rejected = createEvent('product-service', 'inventory.rejected', {
          orderId,
          productId: 'p1',
          reason: 'INSUFFICIENT_STOCK',
          requested: 5,
          available: 1,
        });
        if (rejectFirst) await bus.publish(rejected);
        await bus.publish(orderCreated(orderId, 'tok_visa'));
        if (!rejectFirst) await bus.publish(rejected);
        await waitPayment(orderId, 'CANCELLED');
        await bus.publish(reserved(orderId)); // a confused late reservation still charges nothing
        await bus.idle();
        await new Promise((res) => setTimeout(res, 50));
        expect((await paymentOf(orderId))!.status).toBe('CANCELLED');
        expect(
          gateway.calls.filter((call) => call.idempotencyKey.startsWith(orderId)),
        ).toHaveLength(0);
        expect(of('payment.initiated', orderId)).toHaveLength(0);
      }
    });

    it('refunds a charged order when it is cancelled (payment.refunded, fully refunded)', async () => {
      const { orderId, paymentId } = await paidOrder(2500);
      const cancelled = createEvent('order-service', 'order.cancelled', {
        orderId,
        userId: alice.id,
        reason: 'customer',
        previousStatus: 'CONFIRMED',
        items: [],
      });
      await bus.publish(cancelled);
      await bus.publish(cancelled);
      await waitPayment(orderId, 'REFUNDED');
      const refunded = await eventually(() => of('payment.refunded', orderId)[0], {
        what: 'payment.refunded',
      });
      expect(refunded.data).toMatchObject({
        paymentId,
        orderId,
        amount: { amount: 2500, currency: 'USD' },
        fullyRefunded: true,
        // The payer: notification mails them without reading order.created.
        userId: alice.id,
      });
      expect(refunded.metadata.causationId).toBe(cancelled.eventId);
      expect(
        gateway.calls.filter((c) => c.op === 'refund' && c.idempotencyKey.startsWith(paymentId)),
      ).toHaveLength(1);
      const refundId = (refunded.data as { refundId: string }).refundId;
      const entries = anchor.of(paymentId).filter((e) => e.sourceId === `refund:${refundId}`);
      expect(entries.map((e) => (e.change as { status: string }).status)).toEqual([
        'PENDING',
        'SUCCEEDED',
      ]);
      expect(entries[1]!.state).toMatchObject({ status: 'REFUNDED', refunded: 2500 });
    });

    it('dead-letters an order.created that breaks its contract at once, with the reason, charging nothing', async () => {
      const orderId = randomUUID();
      const bad = createEvent('order-service', 'order.created', {
        ...orderCreated(orderId, 'tok_visa').data,
        total: { amount: 49.99, currency: 'USD' },
      });
      await bus.publish(bad);
      await bus.publish(reserved(orderId));
      await bus.idle();
      expect(bus.deadLetters.filter((d) => d.event?.eventId === bad.eventId)).toEqual([
        expect.objectContaining({
          group: 'payment',
          attempts: 1,
          reason: 'invalid order.created payload: total.amount: number.integer',
        }),
      ]);
      expect((await paymentOf(orderId))!.status).toBe('PENDING');
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(0);
      expect((await api().get('/metrics')).text).toMatch(
        /events_dead_lettered_total\{group="payment",event_type="order.created",service="payment"\} [1-9]/,
      );
    });

    it('never charges an order cancelled before its reservation', async () => {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, 'tok_visa'));
      await bus.publish(
        createEvent('order-service', 'order.cancelled', {
          orderId,
          userId: alice.id,
          reason: 'x',
          previousStatus: 'PENDING',
          items: [],
        }),
      );
      await waitPayment(orderId, 'CANCELLED');
      await bus.publish(reserved(orderId));
      await bus.idle();
      await new Promise((res) => setTimeout(res, 50));
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(0);
    });
  });

  describe('order.failed and order.payment.overdue (orders stuck waiting for payment)', () => {
    const overdue = (orderId: string) =>
      createEvent('order-service', 'order.payment.overdue', {
        orderId,
        userId: alice.id,
        since: new Date().toISOString(),
      });

    it('refunds a charge made for an order that failed (order gave up waiting)', async () => {
      const { orderId, paymentId } = await paidOrder(1800);
      await bus.publish(
        createEvent('order-service', 'order.failed', {
          orderId,
          reason: 'PAYMENT_TIMEOUT',
          items: [],
        }),
      );
      await waitPayment(orderId, 'REFUNDED');
      const refund = (
        await pool.query('SELECT cause, amount_cents FROM refunds WHERE payment_id = $1', [
          paymentId,
        ])
      ).rows;
      expect(refund).toEqual([{ cause: 'order.failed', amount_cents: '1800' }]);
      expect(
        (await eventually(() => of('payment.refunded', orderId)[0], { what: 'payment.refunded' }))
          .data,
      ).toMatchObject({ amount: { amount: 1800 }, fullyRefunded: true });
    });

    it('publishes the completed outcome again when the order is overdue but the charge went through', async () => {
      const { orderId, paymentId } = await paidOrder(700);
      await eventually(() => of('payment.completed', orderId).length === 1, {
        what: 'first completed',
      });
      await bus.publish(overdue(orderId));
      await eventually(() => of('payment.completed', orderId).length === 2, {
        what: 'republished',
      });
      const [first, again] = of('payment.completed', orderId);
      expect(again!.eventId).not.toBe(first!.eventId);
      expect(again!.data).toEqual({ paymentId, orderId, amount: { amount: 700, currency: 'USD' } });
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(1);
    });

    it('publishes the decline again for a payment that failed', async () => {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, 'tok_chargeDeclined'));
      await bus.publish(reserved(orderId));
      await waitPayment(orderId, 'FAILED');
      await eventually(() => of('payment.failed', orderId).length === 1, { what: 'first failed' });
      await bus.publish(overdue(orderId));
      await eventually(() => of('payment.failed', orderId).length === 2, { what: 'republished' });
      expect(of('payment.failed', orderId)[1]!.data).toMatchObject({
        orderId,
        code: 'card_declined',
        retryable: false,
      });
    });

    it('answers payment.failed (no_charge) when it never saw the order, and never charges it later', async () => {
      const orderId = randomUUID();
      // order.created was lost: only the reservation arrived.
      await bus.publish(reserved(orderId));
      await waitPayment(orderId, 'PENDING');
      await bus.publish(overdue(orderId));
      const failed = await eventually(() => of('payment.failed', orderId)[0], {
        what: 'payment.failed',
      });
      expect(failed.data).toMatchObject({ orderId, code: 'no_charge', retryable: false });
      await waitPayment(orderId, 'CANCELLED');
      // The lost event turns up after all: the order is closed, nothing is charged.
      await bus.publish(orderCreated(orderId, 'tok_visa'));
      await bus.idle();
      await new Promise((res) => setTimeout(res, 50));
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(0);
      expect((await paymentOf(orderId))!.status).toBe('CANCELLED');
    });

    it('leaves a charge still in flight to the reconciler (no answer yet)', async () => {
      const orderId = randomUUID();
      const release = gateway.hold(`${orderId}:1`);
      await bus.publish(orderCreated(orderId, 'tok_visa'));
      await bus.publish(reserved(orderId));
      await waitPayment(orderId, 'PROCESSING');
      const ask = overdue(orderId);
      await bus.publish(ask);
      // Handled (recorded as processed) while the charge is still held at the gateway.
      await eventually(
        async () =>
          (await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [ask.eventId]))
            .rowCount === 1,
        { what: 'overdue handled' },
      );
      expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
      expect(of('payment.failed', orderId)).toHaveLength(0);
      expect(of('payment.completed', orderId)).toHaveLength(0);
      release();
      await waitPayment(orderId, 'COMPLETED');
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(1);
    });
  });

  describe('POST /api/payments/initiate (orders placed without payment details)', () => {
    // Initiate's looks at what payment knows of an order while it waits for the saga.
    let looks: jest.SpiedFunction<typeof paymentStore.payableFacts>;
    const looksAt = (orderId: string) => looks.mock.calls.filter(([, id]) => id === orderId).length;
    beforeEach(() => {
      looks = jest.spyOn(paymentStore, 'payableFacts');
    });
    afterEach(() => looks.mockRestore());

    async function awaitingOrder(userId = alice.id) {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, null, 7000, userId));
      await bus.publish(reserved(orderId));
      await waitPayment(orderId, 'AWAITING_PAYMENT');
      return orderId;
    }

    it('lets the owner retry after a decline, then pay; others get 404', async () => {
      const orderId = await awaitingOrder();
      const byBob = await initiate(bob, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(byBob.status).toBe(404);

      const declined = await initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_chargeDeclined' },
      });
      expect(declined.status).toBe(402);
      expect(declined.body.error).toMatchObject({
        code: 'PAYMENT_DECLINED',
        details: { code: 'card_declined', retryable: true },
      });
      expect(declined.body.error.requestId).toBeDefined();
      const failed = await eventually(() => of('payment.failed', orderId)[0], {
        what: 'payment.failed',
      });
      expect(failed.data).toMatchObject({ retryable: true });
      expect((await paymentOf(orderId))!.status).toBe('AWAITING_PAYMENT');

      const paid = await initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(paid.status).toBe(201);
      expect(paid.headers.location).toBe(`/api/payments/${paid.body.id}`);
      matchesSpec('initiatePayment', paid.body);
      expect(paid.body).toMatchObject({
        orderId,
        status: 'COMPLETED',
        amount: { amount: 7000 },
        attempts: [
          { attempt: 1, status: 'FAILED' },
          { attempt: 2, status: 'SUCCEEDED', source: 'initiate' },
        ],
      });
      expect(gateway.callsFor(`${orderId}:1`)).toBe(1);
      expect(gateway.callsFor(`${orderId}:2`)).toBe(1);
      // Both attempts say the customer started them: order moves on these (payment.initiated).
      await eventually(() => of('payment.initiated', orderId).length === 2);
      expect(of('payment.initiated', orderId).map((e) => e.data)).toEqual([
        expect.objectContaining({ attempt: 1, source: 'initiate' }),
        expect.objectContaining({ attempt: 2, source: 'initiate' }),
      ]);

      const again = await initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(again.status).toBe(409);
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(2);
    });

    it('replays the first response for the same Idempotency-Key and body, 422 for another body', async () => {
      const orderId = await awaitingOrder();
      const body = { orderId, payment: { method: 'card', token: 'tok_visa' } };
      const results = await Promise.all(
        [1, 2, 3].map(() =>
          asUser(alice)
            .post('/api/payments/initiate')
            .set('Idempotency-Key', `pay-${orderId}`)
            .send(body),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      // One charges; concurrent twins either replay it or are told it is still in progress.
      expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
      expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(1);
      const replay = await asUser(alice)
        .post('/api/payments/initiate')
        .set('Idempotency-Key', `pay-${orderId}`)
        .send(body);
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body.id).toBe(results.find((r) => r.status === 201)!.body.id);
      expect(replay.headers.location).toBe(`/api/payments/${replay.body.id}`);
      const other = await asUser(alice)
        .post('/api/payments/initiate')
        .set('Idempotency-Key', `pay-${orderId}`)
        .send({ ...body, payment: { method: 'card', token: 'tok_mastercard' } });
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('replays a decline (402) for the same Idempotency-Key, with the replaying request id', async () => {
      const orderId = await awaitingOrder();
      const send = () =>
        asUser(alice)
          .post('/api/payments/initiate')
          .set('Idempotency-Key', `declined-${orderId}`)
          .send({ orderId, payment: { method: 'card', token: 'tok_chargeDeclined' } });
      const first = await send();
      expect(first.status).toBe(402);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      const again = await send();
      expect(again.status).toBe(402);
      expect(again.headers['idempotent-replayed']).toBe('true');
      const { requestId: firstId, ...declined } = first.body.error;
      const { requestId: againId, ...replayed } = again.body.error;
      expect(replayed).toEqual(declined);
      expect(replayed).toMatchObject({
        code: 'PAYMENT_DECLINED',
        details: { code: 'card_declined', retryable: true },
      });
      expect(againId).toEqual(expect.any(String));
      expect(againId).not.toBe(firstId);
      expect(gateway.callsFor(`${orderId}:1`)).toBe(1);
      expect(gateway.callsFor(`${orderId}:2`)).toBe(0);
    });

    it('pays an order its owner saw awaiting payment before payment had handled its events', async () => {
      // The order service shows AWAITING_PAYMENT once it has handled inventory.reserved;
      // payment handles order.created and the reservation at its own pace, here after the
      // customer asked to pay.
      const orderId = randomUUID();
      const paying = initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      }).then((res) => res);
      await eventually(() => looksAt(orderId) > 0, {
        what: 'initiate looking for the order',
      });
      await bus.publish(orderCreated(orderId, null, 6100));
      await waitPayment(orderId, 'PENDING');
      await bus.publish(reserved(orderId));
      const paid = await paying;
      expect(paid.status).toBe(201);
      expect(paid.body).toMatchObject({ orderId, status: 'COMPLETED' });
      expect(gateway.callsFor(`${orderId}:1`)).toBe(1);
    });

    it("answers another user's order at once, without waiting for its reservation", async () => {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, null));
      await waitPayment(orderId, 'PENDING');
      const byBob = await initiate(bob, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(byBob.status).toBe(404);
      expect(looksAt(orderId)).toBe(1);
    });

    it('refuses paying before the reservation (409) and unknown orders (404) once the wait runs out', async () => {
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, null));
      await waitPayment(orderId, 'PENDING');
      const early = await initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      // It looked again while it waited (10 ms, doubling to 200 ms, for CATCH_UP_MS).
      expect(looksAt(orderId)).toBeGreaterThan(5);
      expect(early.status).toBe(409);
      const unknown = await initiate(alice, {
        orderId: randomUUID(),
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(unknown.status).toBe(404);
      const invalid = await initiate(alice, { orderId, payment: { method: 'card' } });
      expect(invalid.status).toBe(400);
      expect(gateway.calls.filter((c) => c.idempotencyKey.startsWith(orderId))).toHaveLength(0);
    });

    it('refuses an order id that cannot be one (400 at once, never waited for); takes one in capitals', async () => {
      for (const orderId of [
        'xyz',
        'a'.repeat(24),
        `{${randomUUID()}}`,
        randomUUID().replace(/-/g, ''),
      ]) {
        const res = await initiate(alice, {
          orderId,
          payment: { method: 'card', token: 'tok_visa' },
        });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
        expect(looksAt(orderId)).toBe(0);
        const read = await asUser(alice).get(`/api/payments/order/${encodeURIComponent(orderId)}`);
        expect(read.status).toBe(400);
      }
      const orderId = randomUUID();
      await bus.publish(orderCreated(orderId, null));
      await waitPayment(orderId, 'PENDING');
      const shouted = await asUser(alice).get(`/api/payments/order/${orderId.toUpperCase()}`);
      expect(shouted.status).toBe(200);
      expect(shouted.body.orderId).toBe(orderId);
    });

    it('with PAYMENT_CATCH_UP_MS=0 answers at once, without looking; the wait is at most 10 s', async () => {
      expect(() => testConfig(db.url, { PAYMENT_CATCH_UP_MS: '10001' })).toThrow(
        /PAYMENT_CATCH_UP_MS/,
      );
      // A second instance on the same database and its own bus, not waiting.
      const quietBus = new InMemoryEventBus();
      const quiet = await paymentService.start({
        config: testConfig(db.url, { PAYMENT_CATCH_UP_MS: '0' }),
        bus: quietBus,
        options: { gateway, anchor },
      });
      try {
        const orderId = randomUUID();
        const res = await requestsAs(() => request(quiet.app), alice)
          .post('/api/payments/initiate')
          .send({ orderId, payment: { method: 'card', token: 'tok_visa' } });
        expect(res.status).toBe(404);
        expect(looksAt(orderId)).toBe(0);
      } finally {
        await quiet.stop();
        await quietBus.close();
      }
    });

    it('refuses paying an order whose reservation expired (order.cancelled)', async () => {
      const orderId = await awaitingOrder();
      await bus.publish(
        createEvent('order-service', 'order.cancelled', {
          orderId,
          userId: alice.id,
          reason: 'RESERVATION_EXPIRED',
          previousStatus: 'AWAITING_PAYMENT',
          items: [],
        }),
      );
      await waitPayment(orderId, 'CANCELLED');
      const res = await initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(res.status).toBe(409);
    });
  });

  describe('GET and refunds', () => {
    it('shows a payment to its owner and admins only', async () => {
      const { orderId, paymentId } = await paidOrder();
      expect((await asUser(admin).get(`/api/payments/${paymentId}`)).status).toBe(200);
      expect((await asUser(bob).get(`/api/payments/${paymentId}`)).status).toBe(404);
      expect((await asUser(bob).get(`/api/payments/order/${orderId}`)).status).toBe(404);
      expect((await asUser(alice).get(`/api/payments/order/${orderId}`)).body.id).toBe(paymentId);
      expect((await asUser(alice).get('/api/payments/not-a-uuid')).status).toBe(400);
      expect((await api().get(`/api/payments/${paymentId}`)).status).toBe(401);
    });

    it('refunds partially up to the amount paid (admin only), 422 beyond', async () => {
      const { orderId, paymentId } = await paidOrder(1000);
      const url = `/api/payments/${paymentId}/refund`;
      expect((await asUser(alice).post(url).send({ amount: 100 })).status).toBe(403);
      expect((await asUser(admin).post(url).send({ amount: 1.5 })).status).toBe(400);
      const first = await asUser(admin).post(url).send({ amount: 300, reason: 'damaged' });
      expect(first.status).toBe(201);
      expect(first.headers.location).toBe(`/api/payments/${paymentId}`);
      matchesSpec('refundPayment', first.body);
      expect(first.body.refund).toMatchObject({
        amount: { amount: 300, currency: 'USD' },
        status: 'SUCCEEDED',
        cause: 'admin',
      });
      expect(first.body.payment).toMatchObject({
        status: 'PARTIALLY_REFUNDED',
        refunded: { amount: 300 },
      });
      const tooMuch = await asUser(admin).post(url).send({ amount: 701 });
      expect(tooMuch.status).toBe(422);
      expect(tooMuch.body.error.code).toBe('REFUND_EXCEEDS_AMOUNT');
      const rest = await asUser(admin).post(url).send({});
      expect(rest.status).toBe(201);
      expect(rest.body.payment).toMatchObject({ status: 'REFUNDED', refunded: { amount: 1000 } });
      expect((await asUser(admin).post(url).send({ amount: 1 })).status).toBe(409);
      await eventually(() => of('payment.refunded', orderId).length === 2, { what: 'two refunds' });
      const refundedEvents = of('payment.refunded', orderId);
      expect(
        refundedEvents.map((e) => (e.data as { fullyRefunded: boolean }).fullyRefunded),
      ).toEqual([false, true]);
    });

    it('never lets concurrent partial refunds sum above the amount', async () => {
      const { paymentId } = await paidOrder(1000);
      const results = await Promise.all(
        [600, 600, 600].map((amount) =>
          asUser(admin).post(`/api/payments/${paymentId}/refund`).send({ amount }),
        ),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 422, 422]);
      const { rows } = await pool.query(
        "SELECT coalesce(sum(amount_cents), 0) AS s FROM refunds WHERE payment_id = $1 AND status = 'SUCCEEDED'",
        [paymentId],
      );
      expect(Number(rows[0].s)).toBe(600);
    });

    it('replays a refund for the same Idempotency-Key instead of refunding twice', async () => {
      const { paymentId } = await paidOrder(1000);
      const send = () =>
        asUser(admin)
          .post(`/api/payments/${paymentId}/refund`)
          .set('Idempotency-Key', `refund-${paymentId}`)
          .send({ amount: 400 });
      const a = await send();
      const b = await send();
      expect([a.status, b.status]).toEqual([201, 201]);
      expect(b.body.refund.id).toBe(a.body.refund.id);
      expect(b.headers['idempotent-replayed']).toBe('true');
      expect(b.headers.location).toBe(`/api/payments/${paymentId}`);
      expect(
        gateway.calls.filter((c) => c.op === 'refund' && c.idempotencyKey.startsWith(paymentId)),
      ).toHaveLength(1);
    });
  });

  describe('GET /api/payments', () => {
    const carol = { id: `user-carol-${randomUUID()}`, role: 'customer' as const };
    const dave = { id: `user-dave-${randomUUID()}`, role: 'customer' as const };
    let carolsPayments: string[]; // oldest first
    let davesPayment: string;

    beforeAll(async () => {
      carolsPayments = [];
      for (const amount of [100, 200, 300]) {
        carolsPayments.push((await paidOrder(amount, carol.id)).paymentId);
      }
      davesPayment = (await paidOrder(400, dave.id)).paymentId;
      // A payment whose order.created never arrived belongs to nobody yet: listed to no one.
      const orphan = randomUUID();
      await bus.publish(reserved(orphan));
      await waitPayment(orphan, 'PENDING');
    });

    const list = (user: { id: string; role: 'customer' | 'admin' }, query = '') =>
      asUser(user).get(`/api/payments${query}`);

    it("lists the caller's own payments, newest first, in the list envelope", async () => {
      const res = await list(carol);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        items: expect.any(Array),
        page: 1,
        limit: 20,
        total: 3,
        totalPages: 1,
      });
      expect(res.body.items.map((p: { id: string }) => p.id)).toEqual(
        [...carolsPayments].reverse(),
      );
      expect(res.body.items[0]).toMatchObject({
        userId: carol.id,
        status: 'COMPLETED',
        amount: { amount: 300, currency: 'USD' },
        attempts: [{ attempt: 1, status: 'SUCCEEDED' }],
      });
      matchesSpec('listPayments', res.body);
      expect((await list(dave)).body.items.map((p: { id: string }) => p.id)).toEqual([
        davesPayment,
      ]);
      expect((await list(carol, `?userId=${carol.id}`)).body.total).toBe(3);
    });

    it('pages with page and limit', async () => {
      const first = await list(carol, '?limit=2');
      expect(first.body).toMatchObject({ page: 1, limit: 2, total: 3, totalPages: 2 });
      expect(first.body.items.map((p: { id: string }) => p.id)).toEqual([
        carolsPayments[2],
        carolsPayments[1],
      ]);
      const second = await list(carol, '?limit=2&page=2');
      expect(second.body).toMatchObject({ page: 2, limit: 2, total: 3, totalPages: 2 });
      expect(second.body.items.map((p: { id: string }) => p.id)).toEqual([carolsPayments[0]]);
      expect((await list(carol, '?limit=2&page=3')).body.items).toEqual([]);
      expect((await list(carol, '?limit=101')).status).toBe(400);
      expect((await list(carol, '?page=0')).status).toBe(400);
      expect((await list(carol, '?status=COMPLETED')).status).toBe(400);
    });

    it("lets an admin list everyone's payments or one user's; a customer only their own", async () => {
      const all = await list(admin, '?limit=100');
      expect(all.status).toBe(200);
      const known = await pool.query('SELECT count(*)::int AS n FROM payments WHERE order_known');
      expect(all.body.total).toBe(known.rows[0].n);
      expect(all.body.total).toBeLessThan(
        (await pool.query('SELECT count(*)::int AS n FROM payments')).rows[0].n,
      );
      const ids = all.body.items.map((p: { id: string }) => p.id);
      expect(ids).toEqual(expect.arrayContaining([davesPayment, ...carolsPayments]));
      const carols = await list(admin, `?userId=${carol.id}`);
      expect(carols.body).toMatchObject({ total: 3 });
      expect(carols.body.items.every((p: { userId: string }) => p.userId === carol.id)).toBe(true);
      const denied = await list(carol, `?userId=${dave.id}`);
      expect(denied.status).toBe(403);
      expect((await api().get('/api/payments')).status).toBe(401);
    });
  });

  it('refunds a charge that completes after its order was cancelled mid-flight', async () => {
    const orderId = randomUUID();
    const release = gateway.hold(`${orderId}:1`);
    await bus.publish(orderCreated(orderId, 'tok_visa', 1500));
    await bus.publish(reserved(orderId));
    await waitPayment(orderId, 'PROCESSING');
    await bus.publish(
      createEvent('order-service', 'order.cancelled', {
        orderId,
        userId: alice.id,
        reason: 'customer',
        previousStatus: 'PAYMENT_PROCESSING',
        items: [],
      }),
    );
    // The cancel waits on the payment row, or marks it: either way it must not be lost.
    await new Promise((res) => setTimeout(res, 100));
    release();
    await waitPayment(orderId, 'REFUNDED');
    const refunded = await eventually(() => of('payment.refunded', orderId)[0], {
      what: 'payment.refunded',
    });
    expect(refunded.data).toMatchObject({ amount: { amount: 1500 }, fullyRefunded: true });
    expect(of('payment.completed', orderId)).toHaveLength(1);
  });

  it('answers 503 when the gateway is unreachable and finishes the charge later', async () => {
    const orderId = randomUUID();
    await bus.publish(orderCreated(orderId, null, 800));
    await bus.publish(reserved(orderId));
    await waitPayment(orderId, 'AWAITING_PAYMENT');
    gateway.unreachable = true;
    try {
      const res = await initiate(alice, {
        orderId,
        payment: { method: 'card', token: 'tok_visa' },
      });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
    } finally {
      gateway.unreachable = false;
    }
    expect((await paymentOf(orderId))!.status).toBe('PROCESSING');
    // A second try is refused while the first is unresolved: no double charge.
    const twin = await initiate(alice, { orderId, payment: { method: 'card', token: 'tok_visa' } });
    expect(twin.status).toBe(409);
    await service.reconciliation.run(0);
    expect((await paymentOf(orderId))!.status).toBe('COMPLETED');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
  });

  it('finishes a charge whose result was never recorded, with the same idempotency key', async () => {
    // Simulate a crash between the gateway call and its recording: claim by hand.
    const orderId = randomUUID();
    await bus.publish(orderCreated(orderId, null, 900));
    await bus.publish(reserved(orderId));
    const payment = await waitPayment(orderId, 'AWAITING_PAYMENT');
    await pool.query("UPDATE payments SET status = 'PROCESSING', attempts = 1 WHERE id = $1", [
      payment.id,
    ]);
    await pool.query(
      "INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method, token) VALUES ($1, 1, $2, 'initiate', 'card', 'tok_visa')",
      [payment.id, `${orderId}:1`],
    );
    await gateway.charge({
      idempotencyKey: `${orderId}:1`,
      amount: 900,
      currency: 'USD',
      method: 'card',
      token: 'tok_visa',
    });
    expect(await service.reconciliation.run(0)).toBeGreaterThanOrEqual(1);
    expect((await paymentOf(orderId))!.status).toBe('COMPLETED');
    await eventually(() => of('payment.completed', orderId).length === 1, {
      what: 'payment.completed',
    });
    // The reconciler's correlation id is the saga's (no request or event in context).
    expect(of('payment.completed', orderId)[0]!.metadata.correlationId).toBe(
      (await pool.query('SELECT correlation_id FROM payments WHERE id = $1', [payment.id])).rows[0]
        .correlation_id,
    );
  });

  it('answers 503 ANCHORING_NOT_CONFIGURED on the blockchain routes without its own anchoring', async () => {
    const { paymentId } = await paidOrder();
    expect(service.anchoring).toBeNull();
    for (const [path, user] of [
      [`/api/blockchain/payment/${paymentId}`, alice],
      [`/api/blockchain/verify/0x${'ab'.repeat(32)}`, alice],
      ['/api/blockchain/status', admin],
    ] as const) {
      const res = await asUser(user).get(path);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('ANCHORING_NOT_CONFIGURED');
    }
    const malformed = await asUser(alice).get('/api/blockchain/verify/0x12');
    expect(malformed.status).toBe(400);
  });

  it('reports readiness from PostgreSQL and the bus', async () => {
    await expectReady(api, ['postgres', 'eventBus']);
  });

  it('POST /api/payments/webhooks with the mock gateway: 404 PROVIDER_NOT_CONFIGURED, nothing recorded', async () => {
    const res = await api()
      .post('/api/payments/webhooks')
      .set('Provider-Signature', 't=1,v1=00')
      .send({ id: 'evt_mock', type: 'payment_intent.succeeded' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('PROVIDER_NOT_CONFIGURED');
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM provider_webhook_events');
    expect(rows[0].n).toBe(0);
  });
});
