import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Saga, address, bearer, customer, eventually, type BusKind } from '../saga/harness';

/** Events a service published, per event id: each id should be there exactly once. */
function repeatedIds(events: Array<{ eventId: string }>): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (const e of events) {
    if (seen.has(e.eventId)) repeated.push(e.eventId);
    seen.add(e.eventId);
  }
  return repeated;
}

async function count(pool: { query: (sql: string) => Promise<{ rows: unknown[] }> }, sql: string) {
  const { rows } = await pool.query(sql);
  return Number((rows[0] as { n: string }).n);
}

/**
 * Two replicas of order and two of payment (same database, same bus namespace, each with its
 * own bus connection and port) run the saga for many orders. Counts effects: one charge, one
 * event of each kind per order, each published event on the bus once, every event handled by
 * one replica of each service (never by both), both replicas doing part of the work.
 */
export function sagaReplicasSuite(kind: BusKind, url: string): void {
  const ORDERS = 16;
  let saga: Saga;

  beforeAll(async () => {
    saga = await new Saga({
      kind,
      url,
      label: `replicas_saga_${kind}`,
      replicas: 2,
      captureLogs: false,
    }).start();
  }, 60000);

  afterAll(async () => {
    await saga?.close();
  });

  test('orders placed on both order replicas are each charged once, every event sent and handled once per service', async () => {
    const productId = await saga.createProduct(1000, 10);
    const placed: string[] = [];
    // Two at a time, one on each replica (a bounded load: the point is who does the work).
    for (let i = 0; i < ORDERS; i += 2) {
      const answers = await Promise.all(
        [0, 1].map((replica) =>
          request(saga.orders[replica].app)
            .post('/api/orders')
            .set('Authorization', bearer(customer))
            .send({
              items: [{ productId, quantity: 1 }],
              shippingAddress: address,
              payment: { method: 'card', token: 'tok_visa' },
            }),
        ),
      );
      for (const res of answers) {
        expect(res.status).toBe(201);
        placed.push(res.body.id as string);
      }
    }
    for (const id of placed) await saga.waitOrder(id, 'CONFIRMED');
    // The stock's sale (order.confirmed handled by product) ends each order's saga.
    await eventually(
      async () => (await saga.stock(productId)).sold === ORDERS,
      'every reservation sold',
    );
    await saga.settle(300);

    for (const id of placed) {
      // Distinct event ids: product (one instance) may send one twice (direct send and relay).
      for (const type of ['order.created', 'inventory.reserved', 'payment.completed']) {
        const n = new Set(saga.of(type, id).map((e) => e.eventId)).size;
        expect({ id, type, n }).toEqual({ id, type, n: 1 });
      }
      expect(saga.of('order.confirmed', id)).toHaveLength(1);
      // One call to the gateway per order, and one charge that moved money.
      expect(saga.gateway.calls.filter((c) => c.idempotencyKey.startsWith(`${id}:`))).toHaveLength(
        1,
      );
      expect(await saga.gateway.chargesMade({ keyPrefix: `${id}:` })).toBe(1);
    }
    // Two relays on one outbox: no event published twice, every row marked sent.
    expect(
      repeatedIds(
        saga.events.filter((e) => e.source === 'order-service' || e.source === 'payment-service'),
      ),
    ).toEqual([]);
    for (const pool of [saga.order.pool, saga.payment.pool]) {
      expect(
        await count(pool, 'SELECT count(*) AS n FROM event_outbox WHERE sent_at IS NULL'),
      ).toBe(0);
    }
    const fromOrder = saga.events.filter((e) => e.source === 'order-service').length;
    expect(await count(saga.order.pool, 'SELECT count(*) AS n FROM event_outbox')).toBe(fromOrder);

    // Competing consumers: the handlers of both replicas of a service ran, and together
    // exactly once per event that service handled (one group per service, not per replica).
    for (const service of ['order', 'payment'] as const) {
      const first = saga.handled.get(Saga.replicaName(service, 0)) ?? 0;
      const second = saga.handled.get(Saga.replicaName(service, 1)) ?? 0;
      expect({ service, bothWorked: first > 0 && second > 0 }).toEqual({
        service,
        bothWorked: true,
      });
      // Every message of the types the service handles, as the tap saw them (a duplicate a
      // publisher sent counts once per send), went to exactly one of the two replicas. What a
      // skip rule picks is delivered but never recorded: order's payment.initiated on the details
      // the order came with (docs/adr/0042).
      const skipped = (e: (typeof saga.events)[number]) =>
        service === 'order' &&
        e.eventType === 'payment.initiated' &&
        (e.data as { source?: string }).source === 'order';
      const pool = service === 'order' ? saga.order.pool : saga.payment.pool;
      const { rows } = await pool.query<{ event_type: string }>(
        'SELECT DISTINCT event_type FROM processed_events',
      );
      const types = new Set(rows.map((r) => r.event_type));
      const messages = saga.events.filter((e) => types.has(e.eventType) || skipped(e));
      expect(messages.some(skipped)).toBe(service === 'order');
      expect(first + second).toBe(messages.length);
      expect(await count(pool, 'SELECT count(*) AS n FROM processed_events')).toBe(
        new Set(messages.filter((e) => !skipped(e)).map((e) => e.eventId)).size,
      );
    }
  }, 90000);

  test('one Idempotency-Key sent concurrently to both order replicas makes one order and one answer', async () => {
    const productId = await saga.createProduct(100, 7);
    const key = `replicas-${randomUUID()}`;
    const body = {
      items: [{ productId, quantity: 2 }],
      shippingAddress: address,
      payment: { method: 'card', token: 'tok_visa' },
    };
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        request(saga.orders[i % 2].app)
          .post('/api/orders')
          .set('Authorization', bearer(customer))
          .set('Idempotency-Key', key)
          .send(body),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
    const ids = new Set(answers.map((r) => r.body.id as string));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    expect(
      await count(
        saga.order.pool,
        `SELECT count(*) AS n FROM orders WHERE user_id = '${customer.id}' AND total_cents = 1400`,
      ),
    ).toBe(1);
    // The same answer, whichever replica replays it.
    for (const r of answers) expect(r.body).toEqual(answers[0].body);
    await saga.waitOrder(id, 'CONFIRMED');
    expect(await saga.gateway.chargesMade({ keyPrefix: `${id}:` })).toBe(1);
    expect(await saga.stock(productId)).toMatchObject({ available: 98 });
  }, 60000);

  test("one Idempotency-Key on payment's initiate, sent to both payment replicas, charges once and replays one answer", async () => {
    const productId = await saga.createProduct(100, 9);
    const { id: orderId } = await saga.placeOrder([{ productId, quantity: 1 }], null);
    await saga.waitOrder(orderId, 'AWAITING_PAYMENT');
    await eventually(
      async () => (await saga.paymentRow(orderId))?.status === 'AWAITING_PAYMENT',
      'payment awaiting its card',
    );
    const key = `pay-${randomUUID()}`;
    const send = (i: number) =>
      request(saga.payments[i % 2].app)
        .post('/api/payments/initiate')
        .set('Authorization', bearer(customer))
        .set('Idempotency-Key', key)
        .send({ orderId, payment: { method: 'card', token: 'tok_visa' } });
    const concurrent = await Promise.all(Array.from({ length: 6 }, (_, i) => send(i)));
    // The first answers; a duplicate arriving while it runs is told so (409), never charged.
    const done = concurrent.filter((r) => r.status !== 409);
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(new Set(done.map((r) => r.status)).size).toBe(1);
    await saga.waitOrder(orderId, 'CONFIRMED');
    const replays = await Promise.all([send(0), send(1)]);
    for (const r of [...done, ...replays]) {
      expect(r.status).toBe(done[0].status);
      expect(r.body.id).toBe(done[0].body.id);
    }
    expect(await saga.gateway.chargesMade({ keyPrefix: `${orderId}:` })).toBe(1);
    expect(
      saga.gateway.calls.filter((c) => c.idempotencyKey.startsWith(`${orderId}:`)),
    ).toHaveLength(1);
  }, 60000);
}
