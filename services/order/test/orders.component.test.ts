import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Client, Pool } from 'pg';
import type { AuthUser } from '@ecom/common/auth';
import { InMemoryEventBus, createEvent } from '@ecom/common/bus';
import type { RunningOrderService } from '../src/service';
import { orderStore } from '../src/store/order-store';
import {
  eventually,
  expectReady,
  type recordingAnchor,
  requestsAs,
  type spyOnEvents,
  queryText,
} from '@ecom/test-support';
import {
  startAuthStub,
  startOrderUnderTest,
  startProductStub,
  type StubProfile,
} from './support/helpers';

const alice = { id: 'user-alice', role: 'customer' as const };
const bob = { id: 'user-bob', role: 'customer' as const };
const admin = { id: 'user-admin', role: 'admin' as const };
const seller = { id: 'seller-1', role: 'seller' as const };
const otherSeller = { id: 'seller-2', role: 'seller' as const };

const address = {
  name: 'Alice Doe',
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};

/** Every event order publishes. */
const ORDER_EVENTS = [
  'order.created',
  'order.confirmed',
  'order.failed',
  'order.cancelled',
  'order.completed',
  'order.payment.overdue',
];

describe('order service (real PostgreSQL, product over HTTP stub)', () => {
  let under: Awaited<ReturnType<typeof startOrderUnderTest>>;
  let product: Awaited<ReturnType<typeof startProductStub>>;
  let auth: Awaited<ReturnType<typeof startAuthStub>>;
  const profiles = new Map<string, StubProfile>();
  let bus: InMemoryEventBus;
  let service: RunningOrderService;
  let spy: Awaited<ReturnType<typeof spyOnEvents>>;
  let pool: Pool;
  let anchor: ReturnType<typeof recordingAnchor>;

  beforeAll(async () => {
    under = await startOrderUnderTest({
      label: 'order_component',
      products: [
        { id: 'p-widget', name: 'Widget', priceCents: 1999 },
        { id: 'p-gadget', name: 'Gadget', priceCents: 250, sellerId: 'seller-9' },
        { id: 'p-euro', name: 'Euro thing', priceCents: 100, currency: 'EUR' },
        // Each used by one test only: what they show depends on whether a quote is cached.
        { id: 'p-cached', name: 'Cached', priceCents: 700 },
        { id: 'p-uncached', name: 'Never quoted before', priceCents: 500 },
      ],
      profiles,
      events: ORDER_EVENTS,
      env: {
        RESERVATION_TTL_MS: '400',
        SWEEP_INTERVAL_MS: '50',
        // A few customers place every order here, many unpaid: the limit has its own file
        // (unpaid-holds.component.test.ts).
        UNPAID_HOLD_MAX_ORDERS: '1000',
        UNPAID_HOLD_MAX_UNITS: '1000000',
      },
    });
    ({ product, auth, bus, service, spy, pool, anchor } = under);
  });

  afterAll(async () => {
    await under?.close();
  });

  const api = () => request(service.app);
  const asUser = (user: AuthUser) => requestsAs(api, user);
  const setStatus = (id: string, user: AuthUser, status: string) =>
    asUser(user).put(`/api/orders/${id}/status`).send({ status });
  const cancel = (id: string, user: AuthUser, body: Record<string, unknown> = {}) =>
    asUser(user).put(`/api/orders/${id}/cancel`).send(body);
  const postOrder = (user: AuthUser, body: Record<string, unknown>) =>
    asUser(user).post('/api/orders').send(body);
  const historyOf = (id: string, user: AuthUser) => asUser(user).get(`/api/orders/${id}/history`);
  const countOrders = async () =>
    Number((await pool.query('SELECT count(*) FROM orders')).rows[0].count);

  async function placeOrder(
    user = alice,
    body: Record<string, unknown> = {
      items: [{ productId: 'p-widget', quantity: 2 }],
      payment: { method: 'card', token: 'tok_visa' },
      shippingAddress: address,
    },
  ) {
    const res = await postOrder(user, body);
    expect(res.status).toBe(201);
    return res.body as { id: string; status: string; total: { amount: number } };
  }

  async function deliver(type: string, data: Record<string, unknown>, source = 'test') {
    const event = createEvent(source, type, data);
    await bus.publish(event);
    return event;
  }

  const statusOf = async (id: string) =>
    (await pool.query('SELECT status FROM orders WHERE id = $1', [id])).rows[0]?.status as string;

  const waitStatus = (id: string, status: string) =>
    eventually(async () => (await statusOf(id)) === status, { what: `order ${id} ${status}` });

  /** Product reserved the order's stock; waits for the status that follows. */
  async function reserve(orderId: string, then: string) {
    await deliver('inventory.reserved', { orderId, items: [] });
    await waitStatus(orderId, then);
  }

  /** Alice's order of gadgets (250 each, seller-9's), without payment details. */
  const gadgetOrder = (quantity: number) =>
    placeOrder(alice, { items: [{ productId: 'p-gadget', quantity }], shippingAddress: address });

  describe('quotes reused for orders', () => {
    const order = async (quantity = 1) => {
      const res = await postOrder(alice, {
        items: [{ productId: 'p-cached', quantity }],
        shippingAddress: address,
      });
      expect(res.status).toBe(201);
      return res.body as { id: string; total: { amount: number } };
    };
    /** Delivers an event to order and waits until it was handled. */
    const handled = async (type: string, data: Record<string, unknown>) => {
      const event = await deliver(type, data, 'product-service');
      await eventually(
        async () =>
          (await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [event.eventId]))
            .rowCount === 1,
      );
    };

    it('asks product once per product within the TTL, even while product is down, and again once product says it changed', async () => {
      const stubbed = product.products.get('p-cached')!;
      const calls = product.state.calls;
      expect((await order()).total.amount).toBe(700);
      expect(product.state.calls).toBe(calls + 1);
      product.state.down = true;
      try {
        expect((await order(2)).total.amount).toBe(1400); // from the cached quote
      } finally {
        product.state.down = false;
      }
      expect(product.state.calls).toBe(calls + 1);

      // product.updated: the next order asks again and charges the new price.
      stubbed.priceCents = 800;
      await handled('product.updated', {
        productId: 'p-cached',
        changes: ['price'],
        price: { amount: 800, currency: 'USD' },
      });
      expect((await order()).total.amount).toBe(800);
      expect(product.state.calls).toBe(calls + 2);
      expect((await order()).total.amount).toBe(800);
      expect(product.state.calls).toBe(calls + 2);

      // A change of stock alone keeps the quote.
      await handled('product.updated', {
        productId: 'p-cached',
        changes: ['inventory', 'lowStockThreshold'],
        price: { amount: 800, currency: 'USD' },
      });
      await order();
      expect(product.state.calls).toBe(calls + 2);

      // product.deleted: asked again.
      await handled('product.deleted', { productId: 'p-cached' });
      await order();
      expect(product.state.calls).toBe(calls + 3);
    });

    it.each(['UNKNOWN_PRODUCT', 'PRODUCT_UNAVAILABLE'])(
      "product's %s refusal drops the quote too (the product may be gone)",
      async (reason) => {
        const placed = await order();
        const calls = product.state.calls;
        await deliver('inventory.rejected', {
          orderId: placed.id,
          productId: 'p-cached',
          reason,
          requested: 1,
          available: 0,
        });
        await eventually(async () => (await statusOf(placed.id)) === 'FAILED');
        await order();
        expect(product.state.calls).toBe(calls + 1);
      },
    );

    it("product's PRICE_CHANGED refusal fails the order and drops the quote: the next order is priced anew", async () => {
      const stubbed = product.products.get('p-cached')!;
      const first = await order();
      const calls = product.state.calls;
      // The price changed without an event reaching this replica (another replica took it).
      stubbed.priceCents = stubbed.priceCents + 50;
      const stale = await order();
      expect(stale.total.amount).toBe(first.total.amount);
      expect(product.state.calls).toBe(calls);
      await deliver('inventory.rejected', {
        orderId: stale.id,
        productId: 'p-cached',
        reason: 'PRICE_CHANGED',
        requested: 1,
        available: 10,
      });
      await eventually(async () => (await statusOf(stale.id)) === 'FAILED');
      expect((await order()).total.amount).toBe(stubbed.priceCents);
      expect(product.state.calls).toBe(calls + 1);
    });
  });

  describe('POST /api/orders', () => {
    it('prices each line from product, stores PENDING with a snapshot and integer total, emits order.created', async () => {
      const res = await asUser(alice)
        .post('/api/orders')
        .set('x-correlation-id', 'corr-create-0001')
        .send({
          items: [
            { productId: 'p-widget', quantity: 3 },
            { productId: 'p-gadget', quantity: 1 },
          ],
          payment: { method: 'card', token: 'tok_visa' },
          shippingAddress: address,
        });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        userId: alice.id,
        status: 'PENDING',
        total: { amount: 3 * 1999 + 250, currency: 'USD' },
        items: [
          { productId: 'p-widget', name: 'Widget', quantity: 3, unitPrice: { amount: 1999 } },
          { productId: 'p-gadget', name: 'Gadget', quantity: 1, lineTotal: { amount: 250 } },
        ],
      });
      const created = await eventually(() => spy.of('order.created', res.body.id)[0]);
      expect(created.metadata.correlationId).toBe('corr-create-0001');
      expect(created.data).toEqual({
        orderId: res.body.id,
        userId: alice.id,
        items: [
          { productId: 'p-widget', quantity: 3, unitPrice: 1999, name: 'Widget' },
          { productId: 'p-gadget', quantity: 1, unitPrice: 250, name: 'Gadget' },
        ],
        total: { amount: 6247, currency: 'USD' },
        payment: { method: 'card', token: 'tok_visa' },
      });
      // The card token went to payment on the bus. The outbox row kept for re-sends keeps it
      // only while the in-memory bus's replay window lasts (ADR 0056), then has none.
      const row = await eventually(async () => {
        const { rows } = await pool.query(
          "SELECT payload, sent_at FROM event_outbox WHERE event_type = 'order.created' AND payload->'data'->>'orderId' = $1",
          [res.body.id],
        );
        return rows[0]?.sent_at && !rows[0].payload.data.payment.token ? rows[0] : undefined;
      });
      expect(row.payload.data.payment).toEqual({ method: 'card' });
      expect(JSON.stringify(row.payload)).not.toContain('tok_visa');
      // The product read carried the request's correlation id.
      expect(product.state.correlationIds).toContain('corr-create-0001');
      // A later price change does not touch the stored snapshot.
      product.products.get('p-widget')!.priceCents = 999;
      const again = await asUser(alice).get(`/api/orders/${res.body.id}`);
      expect(again.body.total.amount).toBe(6247);
      product.products.get('p-widget')!.priceCents = 1999;
    });

    it.each([
      ['no items', { items: [], shippingAddress: address }],
      [
        'zero quantity',
        { items: [{ productId: 'p-widget', quantity: 0 }], shippingAddress: address },
      ],
      [
        'fractional quantity',
        { items: [{ productId: 'p-widget', quantity: 1.5 }], shippingAddress: address },
      ],
      [
        'duplicate product lines',
        {
          items: [
            { productId: 'p-widget', quantity: 1 },
            { productId: 'p-widget', quantity: 2 },
          ],
          shippingAddress: address,
        },
      ],
      [
        // Product ids match in any letter case downstream: two spellings are one product.
        'one product on two lines in two spellings',
        {
          items: [
            { productId: 'p-widget', quantity: 2 },
            { productId: 'P-WIDGET', quantity: 2 },
          ],
          shippingAddress: address,
        },
      ],
      [
        'operator injection',
        { items: [{ productId: { $ne: 1 }, quantity: 1 }], shippingAddress: address },
      ],
      [
        'unknown key',
        { items: [{ productId: 'p-widget', quantity: 1 }], shippingAddress: address, total: 1 },
      ],
      [
        'bad payment method',
        {
          items: [{ productId: 'p-widget', quantity: 1 }],
          payment: { method: 'cash', token: 'x' },
          shippingAddress: address,
        },
      ],
    ])('refuses %s with 400 and stores nothing', async (_name, body) => {
      const before = await countOrders();
      const res = await postOrder(alice, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
      expect(res.body.error.requestId).toBeDefined();
      expect(await countOrders()).toBe(before);
    });

    it('needs a valid token', async () => {
      const res = await api().post('/api/orders').send({ items: [], shippingAddress: address });
      expect(res.status).toBe(401);
      const bad = await api().get('/api/orders').set('Authorization', 'Bearer a.b.c');
      expect(bad.status).toBe(401);
    });

    it('names an unknown product with 422 and stores nothing', async () => {
      const before = await countOrders();
      const res = await postOrder(alice, {
        items: [
          { productId: 'p-widget', quantity: 1 },
          { productId: 'p-nope', quantity: 1 },
        ],
        shippingAddress: address,
      });
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({
        code: 'UNKNOWN_PRODUCT',
        details: { productId: 'p-nope' },
      });
      expect(res.body.error.message).toContain('p-nope');
      expect(await countOrders()).toBe(before);
    });

    it('refuses mixed currencies with 422', async () => {
      const res = await postOrder(alice, {
        items: [
          { productId: 'p-widget', quantity: 1 },
          { productId: 'p-euro', quantity: 1 },
        ],
        shippingAddress: address,
      });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('MIXED_CURRENCY');
    });

    it('answers 503 and stores nothing while product is down and the quote is not cached', async () => {
      const before = await countOrders();
      const outboxBefore = Number(
        (await pool.query('SELECT count(*) FROM event_outbox')).rows[0].count,
      );
      product.state.down = true;
      try {
        const res = await postOrder(alice, {
          items: [{ productId: 'p-uncached', quantity: 1 }],
          shippingAddress: address,
        });
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
        expect(JSON.stringify(res.body)).not.toContain('at ');
      } finally {
        product.state.down = false;
      }
      expect(await countOrders()).toBe(before);
      expect(Number((await pool.query('SELECT count(*) FROM event_outbox')).rows[0].count)).toBe(
        outboxBefore,
      );
    });
  });

  describe('the shipping address from the profile (POST /api/orders with items only)', () => {
    const erin = { id: 'user-erin', role: 'customer' as const };
    const dave = { id: 'user-dave', role: 'customer' as const };

    beforeAll(() => {
      profiles.set(erin.id, {
        name: 'Erin Ng',
        address: {
          line1: '9 Elm Rd',
          city: 'Leeds',
          postalCode: 'LS1 4AP',
          region: 'West Yorkshire',
          country: 'GB',
        },
      });
      profiles.set(dave.id, { name: 'Dave NoAddress' });
    });

    it('takes name and address from the customer profile when the body has none', async () => {
      const res = await postOrder(erin, { items: [{ productId: 'p-widget', quantity: 2 }] });
      expect(res.status).toBe(201);
      expect(res.body.shippingAddress).toEqual({
        name: 'Erin Ng',
        line1: '9 Elm Rd',
        city: 'Leeds',
        region: 'West Yorkshire',
        postalCode: 'LS1 4AP',
        country: 'GB',
      });
      // No payment details: it will wait reserved in AWAITING_PAYMENT, as before.
      expect(res.body.paymentMethod).toBeNull();
    });

    it("asks for an address when the saved one breaks the rules of an order's (saved before a rule)", async () => {
      const mallory = { id: 'user-mallory', role: 'customer' as const };
      profiles.set(mallory.id, {
        name: 'Mallory',
        address: { line1: '1 Main St', line2: 'Flat \u202e7 tpA', city: 'Leeds', country: 'GB' },
      });
      const before = await countOrders();
      const res = await postOrder(mallory, { items: [{ productId: 'p-widget', quantity: 1 }] });
      expect([res.status, res.body.error.code]).toEqual([422, 'SHIPPING_ADDRESS_REQUIRED']);
      expect(await countOrders()).toBe(before);
      // Sent with the order, the same address is refused as any bad input.
      const sent = await postOrder(mallory, {
        items: [{ productId: 'p-widget', quantity: 1 }],
        shippingAddress: { ...address, line2: 'Flat \u202e7 tpA' },
      });
      expect(sent.status).toBe(400);
    });

    it('prefers the address sent with the order (no profile read)', async () => {
      const calls = auth.state.calls;
      const res = await postOrder(erin, {
        items: [{ productId: 'p-widget', quantity: 1 }],
        shippingAddress: address,
      });
      expect(res.status).toBe(201);
      expect(res.body.shippingAddress).toEqual(address);
      expect(auth.state.calls).toBe(calls);
    });

    it.each([
      ['a profile without an address', () => dave],
      [
        'no profile (account unknown to auth)',
        () => ({ id: 'user-ghost', role: 'customer' as const }),
      ],
    ])('answers 422 saying how to fix it for %s, storing nothing', async (_case, who) => {
      const before = await countOrders();
      const res = await postOrder(who(), { items: [{ productId: 'p-widget', quantity: 1 }] });
      expect(res.status).toBe(422);
      expect(res.body.error).toMatchObject({
        code: 'SHIPPING_ADDRESS_REQUIRED',
        message: expect.stringContaining('PUT /api/auth/profile'),
        details: { field: 'shippingAddress' },
      });
      expect(await countOrders()).toBe(before);
    });

    it('answers 503 DEPENDENCY_UNAVAILABLE and stores nothing while auth is down', async () => {
      auth.state.down = true;
      try {
        const before = await countOrders();
        const res = await postOrder(erin, { items: [{ productId: 'p-widget', quantity: 1 }] });
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
        expect(await countOrders()).toBe(before);
      } finally {
        auth.state.down = false;
      }
    });
  });

  describe('Idempotency-Key', () => {
    const body = {
      items: [{ productId: 'p-gadget', quantity: 4 }],
      shippingAddress: address,
    };

    it('returns the same order for the same key and body, 422 for another body', async () => {
      const first = await asUser(alice)
        .post('/api/orders')
        .set('Idempotency-Key', 'key-same-1')
        .send(body);
      expect(first.status).toBe(201);
      // Key order in the JSON does not matter: the fingerprint is of the canonical body.
      const second = await asUser(alice)
        .post('/api/orders')
        .set('Idempotency-Key', 'key-same-1')
        .send({ shippingAddress: address, items: [{ quantity: 4, productId: 'p-gadget' }] });
      expect(second.status).toBe(201);
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(second.body).toEqual(first.body);
      const other = await asUser(alice)
        .post('/api/orders')
        .set('Idempotency-Key', 'key-same-1')
        .send({ ...body, items: [{ productId: 'p-gadget', quantity: 5 }] });
      expect(other.status).toBe(422);
      expect(other.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
      const { rows } = await pool.query(
        'SELECT count(*) FROM orders WHERE user_id = $1 AND total_cents = 1000',
        [alice.id],
      );
      expect(Number(rows[0].count)).toBe(1);
      // Keys belong to a user: bob's same key is his own.
      const bobs = await asUser(bob)
        .post('/api/orders')
        .set('Idempotency-Key', 'key-same-1')
        .send(body);
      expect(bobs.status).toBe(201);
      expect(bobs.body.id).not.toBe(first.body.id);
    });

    it('creates one order for concurrent duplicates', async () => {
      const before = await countOrders();
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          asUser(alice).post('/api/orders').set('Idempotency-Key', 'key-race-1').send(body),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(201));
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(await countOrders()).toBe(before + 1);
      await eventually(() => spy.of('order.created', results[0]!.body.id).length === 1);
    });

    it('claims the key with the COMMIT, in the round trip that ends the transaction', async () => {
      const query = jest.spyOn(Client.prototype, 'query');
      let sent: string[];
      try {
        const res = await asUser(alice)
          .post('/api/orders')
          .set('Idempotency-Key', 'key-commit-1')
          .send(body);
        expect(res.status).toBe(201);
      } finally {
        sent = query.mock.calls.map(([text]) => queryText(text));
        query.mockRestore();
      }
      const claims = sent.filter((q) => q.includes('INSERT INTO http_idempotency'));
      expect(claims).toHaveLength(1);
      // A new order does not look for a stored answer first: a repeat fails and looks then.
      expect(sent.filter((q) => /^SELECT .* FROM http_idempotency/s.test(q))).toHaveLength(0);
      expect(claims[0]).toMatch(/'key-commit-1'.*COMMIT\s*$/s);
      const { rows } = await pool.query(
        `SELECT resource_id, response_status FROM http_idempotency WHERE key = 'key-commit-1'`,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0].response_status).toBe(201);
    });

    it('replays the first answer to a repeat that could no longer be placed (product down, its quote dropped)', async () => {
      const first = await asUser(alice)
        .post('/api/orders')
        .set('Idempotency-Key', 'key-down-1')
        .send(body);
      expect(first.status).toBe(201);
      const before = await countOrders();
      await deliver('product.deleted', { productId: 'p-gadget' }, 'product-service');
      await eventually(async () => {
        product.state.down = true;
        try {
          // Until the event has dropped the quote, the repeat is priced and fails on the key.
          const again = await asUser(alice)
            .post('/api/orders')
            .set('Idempotency-Key', 'key-down-1')
            .send(body);
          expect(again.status).toBe(201);
          expect(again.headers['idempotent-replayed']).toBe('true');
          expect(again.body).toEqual(first.body);
          // Without the key, placing it fails now: the replay did not price.
          const fresh = await asUser(alice).post('/api/orders').send(body);
          return fresh.status === 503;
        } finally {
          product.state.down = false;
        }
      });
      expect(await countOrders()).toBe(before);
    });

    it('refuses a malformed key', async () => {
      const res = await asUser(alice)
        .post('/api/orders')
        .set('Idempotency-Key', 'bad key!')
        .send(body);
      expect(res.status).toBe(400);
    });
  });

  describe('reading orders', () => {
    it('shows an order to its owner and admins only (404 for others)', async () => {
      const order = await placeOrder(alice);
      expect((await asUser(alice).get(`/api/orders/${order.id}`)).status).toBe(200);
      expect((await asUser(admin).get(`/api/orders/${order.id}`)).status).toBe(200);
      const other = await asUser(bob).get(`/api/orders/${order.id}`);
      expect(other.status).toBe(404);
      expect(other.body.error.code).toBe('NOT_FOUND');
      expect((await asUser(alice).get('/api/orders/not-a-uuid')).status).toBe(400);
    });

    it('lists own orders, all for admins, paginated and filtered by status', async () => {
      const carol = { id: 'user-carol', role: 'customer' as const };
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await placeOrder(carol)).id);
      const page1 = await asUser(carol).get('/api/orders?limit=2&page=1');
      expect(page1.status).toBe(200);
      expect(page1.body).toMatchObject({ page: 1, limit: 2, total: 3, totalPages: 2 });
      expect(page1.body.items.map((o: { id: string }) => o.id)).toEqual([ids[2], ids[1]]);
      const page2 = await asUser(carol).get('/api/orders?limit=2&page=2');
      expect(page2.body.items.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
      expect(page1.body.items.every((o: { userId: string }) => o.userId === carol.id)).toBe(true);

      const mine = await asUser(admin).get(`/api/orders?userId=${carol.id}&status=PENDING`);
      expect(mine.body.total).toBe(3);
      const all = await asUser(admin).get('/api/orders?limit=100');
      expect(new Set(all.body.items.map((o: { userId: string }) => o.userId)).size).toBeGreaterThan(
        1,
      );
      expect((await asUser(bob).get(`/api/orders?userId=${carol.id}`)).status).toBe(403);
      expect((await asUser(admin).get('/api/orders?status=NOPE')).status).toBe(400);
      expect((await asUser(admin).get('/api/orders?limit=101')).status).toBe(400);
    });
  });

  describe('orders by seller (GET /api/orders?seller=me)', () => {
    let mixed: { id: string };

    beforeAll(async () => {
      // p-widget is seller-1's, p-gadget seller-9's.
      mixed = await placeOrder(bob, {
        items: [
          { productId: 'p-widget', quantity: 2 },
          { productId: 'p-gadget', quantity: 3 },
        ],
        shippingAddress: address,
      });
    });

    it('shows a seller the orders holding their lines, with only those lines and their subtotal', async () => {
      const res = await asUser(seller).get('/api/orders?seller=me&limit=100');
      expect(res.status).toBe(200);
      const found = res.body.items.find((o: { id: string }) => o.id === mixed.id);
      expect(found).toEqual({
        id: mixed.id,
        status: 'PENDING',
        items: [
          expect.objectContaining({ productId: 'p-widget', quantity: 2, sellerId: seller.id }),
        ],
        sellerTotal: { amount: 2 * 1999, currency: 'USD' },
        shippingAddress: address,
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      for (const order of res.body.items as { items: { sellerId: string }[] }[]) {
        expect(order.items.length).toBeGreaterThan(0);
        expect(order.items.every((i) => i.sellerId === seller.id)).toBe(true);
      }
      expect(res.body.total).toBe(res.body.items.length);
    });

    it('shows an admin any seller, and lists nothing for a seller without lines', async () => {
      const other = await asUser(admin).get('/api/orders?seller=seller-9&limit=100');
      const found = other.body.items.find((o: { id: string }) => o.id === mixed.id);
      expect(found.items).toEqual([
        expect.objectContaining({ productId: 'p-gadget', quantity: 3 }),
      ]);
      expect(found.sellerTotal).toEqual({ amount: 750, currency: 'USD' });
      // One spelling per id: the same seller in capitals.
      const shouted = await asUser(admin).get('/api/orders?seller=SELLER-9&limit=100');
      expect(shouted.body.items.map((o: { id: string }) => o.id)).toEqual(
        other.body.items.map((o: { id: string }) => o.id),
      );
      const none = await asUser(otherSeller).get('/api/orders?seller=me');
      expect(none.body).toEqual({ items: [], page: 1, limit: 20, total: 0, totalPages: 0 });
    });

    it.each([
      ['a customer asking for seller=me', () => alice, 'seller=me'],
      ["a seller asking for another seller's lines", () => seller, 'seller=seller-9'],
    ])('refuses %s with 403', async (_case, who, query) => {
      const res = await asUser(who()).get(`/api/orders?${query}`);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    });

    it('refuses seller together with userId, and a malformed seller, with 400', async () => {
      for (const query of ['seller=me&userId=u1', 'seller=a%20b']) {
        const res = await asUser(admin).get(`/api/orders?${query}`);
        expect(res.status).toBe(400);
      }
    });
  });

  describe('a deleted account (user.deleted)', () => {
    it('cancels its open orders (releasing stock, refunding) and leaves shipped and closed ones', async () => {
      const frank = { id: `user-frank-${Date.now()}`, role: 'customer' as const };
      const pending = await placeOrder(frank);
      const confirmed = await placeOrder(frank);
      const shipped = await placeOrder(frank);
      for (const o of [confirmed, shipped]) {
        await deliver('payment.completed', {
          orderId: o.id,
          paymentId: 'pay-1',
          amount: { amount: 3998, currency: 'USD' },
        });
        await waitStatus(o.id, 'CONFIRMED');
      }
      const ship = await setStatus(shipped.id, admin, 'SHIPPED');
      expect(ship.status).toBe(200);
      const deleted = await deliver('user.deleted', { userId: frank.id }, 'auth-service');
      await waitStatus(pending.id, 'CANCELLED');
      await waitStatus(confirmed.id, 'CANCELLED');
      expect(await statusOf(shipped.id)).toBe('SHIPPED');
      for (const [o, previous] of [
        [pending, 'PENDING'],
        [confirmed, 'CONFIRMED'],
      ] as const) {
        const event = await eventually(() => spy.of('order.cancelled', o.id)[0]);
        expect(event.data).toMatchObject({ reason: 'ACCOUNT_DELETED', previousStatus: previous });
        expect(event.metadata.causationId).toBe(deleted.eventId);
      }
      // Redelivered: nothing more happens.
      await bus.publish(deleted);
      await bus.idle();
      expect(spy.of('order.cancelled', confirmed.id)).toHaveLength(1);
    });

    it('refuses an order sent with a token issued before the deletion, and places nothing', async () => {
      const gina = { id: `user-gina-${Date.now()}`, role: 'customer' as const };
      await placeOrder(gina);
      const deleted = await deliver('user.deleted', { userId: gina.id }, 'auth-service');
      await eventually(
        async () =>
          (
            await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
              deleted.eventId,
            ])
          ).rowCount === 1,
      );
      const before = await countOrders();
      const res = await postOrder(gina, {
        items: [{ productId: 'p-widget', quantity: 1 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: address,
      });
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        code: 'UNAUTHORIZED',
        details: { reason: 'account_deleted' },
      });
      expect(await countOrders()).toBe(before);
      expect(
        spy.of('order.created').filter((e) => (e.data as { userId: string }).userId === gina.id),
      ).toHaveLength(1);
    });
  });

  describe('orders stuck in PAYMENT_PROCESSING', () => {
    const backdate = (id: string, ms: number) =>
      pool.query(
        "UPDATE orders SET updated_at = now() - $2::bigint * interval '1 millisecond' WHERE id = $1",
        [id, ms],
      );

    it('asks payment (order.payment.overdue) once the order is overdue, and again only after another interval', async () => {
      const order = await placeOrder();
      await reserve(order.id, 'PAYMENT_PROCESSING');
      await service.sweeper.runOnce();
      expect(spy.of('order.payment.overdue', order.id)).toHaveLength(0); // not overdue yet (5 min)
      await backdate(order.id, 6 * 60_000);
      const asked = await eventually(() => spy.of('order.payment.overdue', order.id)[0]);
      expect(asked.data).toEqual({
        orderId: order.id,
        userId: alice.id,
        since: expect.any(String),
      });
      await service.sweeper.runOnce();
      await bus.idle();
      expect(spy.of('order.payment.overdue', order.id)).toHaveLength(1); // asked recently
      await pool.query(
        "UPDATE orders SET payment_checked_at = now() - interval '6 minutes' WHERE id = $1",
        [order.id],
      );
      await eventually(() => spy.of('order.payment.overdue', order.id).length === 2);
      // Payment's answer (no charge) fails the order, which releases the stock.
      await deliver('payment.failed', {
        orderId: order.id,
        paymentId: 'pay-x',
        code: 'no_charge',
        reason: 'payment has no charge for this order',
        retryable: false,
      });
      await waitStatus(order.id, 'FAILED');
      expect((await eventually(() => spy.of('order.failed', order.id)[0])).data).toMatchObject({
        orderId: order.id,
        items: [{ productId: 'p-widget', quantity: 2 }],
      });
    });

    it('fails an order payment never answered for, past PAYMENT_GIVE_UP_MS (24 h)', async () => {
      const order = await placeOrder();
      await reserve(order.id, 'PAYMENT_PROCESSING');
      await backdate(order.id, 25 * 3600_000);
      await waitStatus(order.id, 'FAILED');
      const history = await historyOf(order.id, alice);
      expect(history.body.history.at(-1)).toMatchObject({
        from: 'PAYMENT_PROCESSING',
        to: 'FAILED',
        reason: 'PAYMENT_TIMEOUT',
        cause: { type: 'system', name: 'payment-timeout' },
      });
      expect(await eventually(() => spy.of('order.failed', order.id)[0])).toBeTruthy();
    });
  });

  describe('orders left PENDING (order.created never answered)', () => {
    const backdatePending = (id: string, ms: number) =>
      pool.query(
        `UPDATE orders SET updated_at = now() - $2::bigint * interval '1 millisecond',
           created_resent_at = CASE WHEN created_resent_at IS NULL THEN NULL
             ELSE now() - $2::bigint * interval '1 millisecond' END
         WHERE id = $1`,
        [id, ms],
      );
    const resends = async (id: string) =>
      Number(
        (await pool.query('SELECT created_resends FROM orders WHERE id = $1', [id])).rows[0]
          .created_resends,
      );

    it('re-sends the original order.created PENDING_MAX_RESENDS (3) times, one interval apart, then fails the order', async () => {
      const order = await placeOrder();
      const original = await eventually(() => spy.of('order.created', order.id)[0]);
      await service.sweeper.runOnce();
      await bus.idle();
      expect(spy.of('order.created', order.id)).toHaveLength(1); // not stuck yet (2 min)
      // Its card token leaves the outbox once the bus's replay window is over (ADR 0056).
      await eventually(async () => {
        const { rows } = await pool.query(
          "SELECT 1 FROM event_outbox WHERE event_type = 'order.created' AND payload->'data'->>'orderId' = $1 AND payload->'data'->'payment' ? 'token'",
          [order.id],
        );
        return rows.length === 0;
      });

      for (let n = 1; n <= 3; n += 1) {
        await backdatePending(order.id, 2 * 60_000 + 1000);
        await eventually(() => spy.of('order.created', order.id).length === n + 1, {
          what: `re-send ${n}`,
        });
        expect(await resends(order.id)).toBe(n);
        // Asked recently: not again within the interval.
        await service.sweeper.runOnce();
        await bus.idle();
        expect(spy.of('order.created', order.id)).toHaveLength(n + 1);
        expect(await statusOf(order.id)).toBe('PENDING');
      }
      const sent = spy.of('order.created', order.id);
      expect(new Set(sent.map((e) => e.eventId)).size).toBe(4);
      for (const again of sent.slice(1)) {
        // The very order.created it was created with, new event id, without the card token:
        // it was erased once the first one was sent (payment keeps it from that one).
        const { payment, ...rest } = original.data as { payment: object };
        expect(again.data).toEqual({ ...rest, payment: null });
        expect(payment).toEqual({ method: 'card', token: 'tok_visa' });
        expect(again.metadata.correlationId).toBe(original.metadata.correlationId);
      }
      expect((original.data as { payment: unknown }).payment).toEqual({
        method: 'card',
        token: 'tok_visa',
      });

      // No answer one interval after the last re-send: the order fails, which releases.
      await backdatePending(order.id, 2 * 60_000 + 1000);
      await waitStatus(order.id, 'FAILED');
      expect(spy.of('order.created', order.id)).toHaveLength(4);
      const failed = await eventually(() => spy.of('order.failed', order.id)[0]);
      expect(failed.data).toEqual({
        orderId: order.id,
        userId: alice.id,
        reason: 'PENDING_TIMEOUT: no reservation outcome for order.created (re-sent 3 times)',
        items: [{ productId: 'p-widget', quantity: 2 }],
      });
      const history = await historyOf(order.id, alice);
      expect(history.body.history.at(-1)).toMatchObject({
        from: 'PENDING',
        to: 'FAILED',
        reason: 'PENDING_TIMEOUT',
        cause: { type: 'system', name: 'pending-timeout' },
      });
    });

    it('stops re-sending once product answers', async () => {
      const order = await placeOrder();
      await backdatePending(order.id, 2 * 60_000 + 1000);
      await eventually(() => spy.of('order.created', order.id).length === 2);
      // Product answers the re-sent one: the order moves on and is never re-sent or failed.
      await reserve(order.id, 'PAYMENT_PROCESSING');
      await pool.query(
        "UPDATE orders SET created_resent_at = now() - interval '1 hour' WHERE id = $1",
        [order.id],
      );
      await service.sweeper.runOnce();
      await bus.idle();
      expect(spy.of('order.created', order.id)).toHaveLength(2);
      expect(await statusOf(order.id)).toBe('PAYMENT_PROCESSING');
    });
  });

  describe('a reservation product still holds (inventory.reservation.overdue)', () => {
    const overdue = (orderId: string) =>
      deliver(
        'inventory.reservation.overdue',
        { orderId, since: new Date().toISOString() },
        'product-service',
      );

    it('announces order.confirmed again for a confirmed order (product lost it: the stock is sold)', async () => {
      const order = await placeOrder();
      await reserve(order.id, 'PAYMENT_PROCESSING');
      await deliver('payment.completed', {
        paymentId: 'pay-r1',
        orderId: order.id,
        amount: { amount: 3998, currency: 'USD' },
      });
      await waitStatus(order.id, 'CONFIRMED');
      const first = await eventually(() => spy.of('order.confirmed', order.id)[0]);
      const question = await overdue(order.id);
      const again = await eventually(() => spy.of('order.confirmed', order.id)[1]);
      expect(again.eventId).not.toBe(first.eventId);
      expect(again.data).toEqual(first.data);
      expect(again.metadata.causationId).toBe(question.eventId);
      expect(await statusOf(order.id)).toBe('CONFIRMED');
    });

    it('announces order.cancelled again, as it was, for a cancelled order', async () => {
      const order = await gadgetOrder(1);
      await reserve(order.id, 'AWAITING_PAYMENT');
      expect((await cancel(order.id, alice, { reason: 'changed my mind' })).status).toBe(200);
      const first = await eventually(() => spy.of('order.cancelled', order.id)[0]);
      await overdue(order.id);
      const again = await eventually(() => spy.of('order.cancelled', order.id)[1]);
      expect(again.data).toEqual(first.data);
      expect(again.data).toMatchObject({
        reason: 'changed my mind',
        previousStatus: 'AWAITING_PAYMENT',
        items: [{ productId: 'p-gadget', quantity: 1 }],
      });
    });

    it('answers order.failed (UNKNOWN_ORDER) for an order it does not know', async () => {
      const orderId = '00000000-0000-4000-8000-00000000beef';
      await overdue(orderId);
      const failed = await eventually(() => spy.of('order.failed', orderId)[0]);
      expect(failed.data).toEqual({ orderId, reason: 'UNKNOWN_ORDER', items: [] });
    });

    it('says nothing about an order still in progress', async () => {
      const order = await placeOrder();
      await reserve(order.id, 'PAYMENT_PROCESSING');
      const before = spy.events.length;
      await overdue(order.id);
      await bus.idle();
      const about = spy.events
        .slice(before)
        .filter((e) => (e.data as { orderId?: string }).orderId === order.id);
      expect(about).toEqual([]);
      expect(await statusOf(order.id)).toBe('PAYMENT_PROCESSING');
    });
  });

  describe('the saga as seen by order', () => {
    it("sends the order's writes (its creation, each move) through anchoring's write, and its reads on to record", async () => {
      // The recording anchor sends writes alone; a real one adds its lock and reads to their
      // round trip (common/test/anchoring). What matters here: which statements go that way,
      // and that the reads of each reach record() unchanged.
      const order = await placeOrder();
      await deliver(
        'inventory.reserved',
        { orderId: order.id, items: [{ productId: 'p-widget', quantity: 2 }] },
        'product-service',
      );
      await waitStatus(order.id, 'PAYMENT_PROCESSING');
      const ref = { recordType: 'order', recordId: order.id };
      const writes = anchor.calls.writes.filter((w) => w.ref.recordId === order.id);
      expect(writes.map((w) => [w.ref, w.text.trim().slice(0, 11)])).toEqual([
        [ref, 'WITH o AS ('],
        [ref, 'WITH prev A'],
      ]);
      const records = anchor.calls.records.filter((r) => r.ref.recordId === order.id);
      // Each record got the very reads its write answered.
      expect(records).toHaveLength(writes.length);
      records.forEach((r, i) => expect(r.prefetched).toBe(writes[i]!.reads));
    });

    it('goes PENDING → PAYMENT_PROCESSING → CONFIRMED, emits order.confirmed, anchors each change, keeps history', async () => {
      const order = await placeOrder();
      const reserved = await deliver(
        'inventory.reserved',
        { orderId: order.id, items: [{ productId: 'p-widget', quantity: 2 }] },
        'product-service',
      );
      await waitStatus(order.id, 'PAYMENT_PROCESSING');
      const initiated = await deliver('payment.initiated', {
        paymentId: 'pay-1',
        orderId: order.id,
        amount: { amount: 3998, currency: 'USD' },
        attempt: 1,
      });
      const completed = await deliver('payment.completed', {
        paymentId: 'pay-1',
        orderId: order.id,
        amount: { amount: 3998, currency: 'USD' },
      });
      await waitStatus(order.id, 'CONFIRMED');
      const confirmed = await eventually(() => spy.of('order.confirmed', order.id)[0]);
      expect(confirmed.data).toEqual({
        orderId: order.id,
        userId: alice.id,
        items: [{ productId: 'p-widget', quantity: 2 }],
        total: { amount: 3998, currency: 'USD' },
      });
      expect(confirmed.metadata.causationId).toBe(completed.eventId);

      const history = await historyOf(order.id, alice);
      expect(history.status).toBe(200);
      expect(history.body.history.map((h: { from: string; to: string }) => [h.from, h.to])).toEqual(
        [
          [null, 'PENDING'],
          ['PENDING', 'PAYMENT_PROCESSING'],
          ['PAYMENT_PROCESSING', 'CONFIRMED'],
        ],
      );
      expect(history.body.history[0].cause).toMatchObject({ type: 'request', userId: alice.id });
      expect(history.body.history[1].cause).toEqual({
        type: 'event',
        eventId: reserved.eventId,
        eventType: 'inventory.reserved',
      });
      expect(history.body.history[2].cause).toEqual({
        type: 'event',
        eventId: completed.eventId,
        eventType: 'payment.completed',
      });
      expect(Date.parse(history.body.history[2].at)).toBeGreaterThanOrEqual(
        Date.parse(history.body.history[1].at),
      );
      // payment.initiated in PAYMENT_PROCESSING is not a transition: nothing recorded for it.
      expect(JSON.stringify(history.body)).not.toContain(initiated.eventId);

      // One entry per change, the creation included, each with the whole order after it.
      const entries = anchor.of(order.id);
      expect(entries.map((e) => (e.change as { to: string }).to)).toEqual([
        'PENDING',
        'PAYMENT_PROCESSING',
        'CONFIRMED',
      ]);
      expect(entries.map((e) => (e.state as { status: string }).status)).toEqual([
        'PENDING',
        'PAYMENT_PROCESSING',
        'CONFIRMED',
      ]);
      expect(entries.map((e) => e.sequence)).toEqual([1, 2, 3]);
      expect(entries[2]).toMatchObject({
        recordType: 'order',
        state: { total: 3998, currency: 'USD', paymentId: 'pay-1', refunded: 0 },
      });
      expect(new Set(entries.map((e) => e.sourceId)).size).toBe(3);
    });

    it('moves the order on inventory.reserved by one statement, which its payment details steer', async () => {
      const paid = await placeOrder();
      const unpaid = await gadgetOrder(1);
      const spies = (['transition', 'get'] as const).map((name) => ({
        name,
        spy: jest.spyOn(orderStore, name as 'get'),
      }));
      try {
        await reserve(paid.id, 'PAYMENT_PROCESSING');
        await reserve(unpaid.id, 'AWAITING_PAYMENT');
        // Store calls in the order they came, per order: the move itself reads whether the order
        // came with payment details, and the whole order (its lines as JSON) comes back from it;
        // nothing reads it before, to choose the move, or after.
        const calls = spies
          .flatMap(({ name, spy }) =>
            spy.mock.calls.map((args, i) => {
              // transition takes its input object; the reads take the order id.
              const target: unknown = args[1];
              return {
                name,
                orderId:
                  typeof target === 'string' ? target : (target as { orderId: string }).orderId,
                at: spy.mock.invocationCallOrder[i]!,
              };
            }),
          )
          .sort((a, b) => a.at - b.at);
        for (const id of [paid.id, unpaid.id]) {
          expect(calls.filter((c) => c.orderId === id).map((c) => c.name)).toEqual(['transition']);
        }
      } finally {
        for (const { spy } of spies) spy.mockRestore();
      }
      // Each history row names the status the statement chose.
      for (const [order, to] of [
        [paid, 'PAYMENT_PROCESSING'],
        [unpaid, 'AWAITING_PAYMENT'],
      ] as const) {
        const history = await historyOf(order.id, alice);
        expect(
          history.body.history.map((h: { from: string; to: string }) => [h.from, h.to]),
        ).toEqual([
          [null, 'PENDING'],
          ['PENDING', to],
        ]);
      }
    });

    it('acknowledges an inventory.reserved for an order it does not know, writing nothing', async () => {
      const orderId = randomUUID(); // an order id this service never placed
      const reserved = await deliver(
        'inventory.reserved',
        { orderId, items: [] },
        'product-service',
      );
      await bus.idle();
      expect(bus.deadLetters.filter((d) => d.event?.eventId === reserved.eventId)).toEqual([]);
      const written = await pool.query(
        `SELECT (SELECT count(*) FROM orders WHERE id = $1) AS orders,
                (SELECT count(*) FROM order_status_history WHERE order_id = $1) AS history`,
        [orderId],
      );
      expect(written.rows[0]).toEqual({ orders: '0', history: '0' });
      expect(anchor.of(orderId)).toEqual([]);
      expect(spy.of('order.failed', orderId)).toEqual([]);
    });

    it('decides a payment.initiated by the move alone (its attempt checked in the same statement)', async () => {
      const order = await placeOrder();
      await reserve(order.id, 'PAYMENT_PROCESSING');
      const names = Object.keys(orderStore) as Array<keyof typeof orderStore>;
      const spies = names.map((name) => ({ name, spy: jest.spyOn(orderStore, name as 'get') }));
      try {
        await deliver('payment.initiated', {
          paymentId: 'pay-3',
          orderId: order.id,
          amount: { amount: 3998, currency: 'USD' },
          attempt: 1,
        });
        await bus.idle();
        // Calls about this order (the sweeps on their timers ask about no order in particular).
        const about = (args: unknown[]) =>
          args
            .slice(1)
            .some((a) =>
              typeof a === 'string'
                ? a === order.id
                : (a as { orderId?: string })?.orderId === order.id,
            );
        const called = spies.filter(({ spy }) => spy.mock.calls.some(about));
        expect(called.map(({ name }) => name)).toEqual(['transition']);
        expect(called[0]!.spy.mock.calls.filter(about)).toHaveLength(1);
        expect(called[0]!.spy.mock.calls.find(about)![1]).toMatchObject({
          orderId: order.id,
          transition: 'paymentStarted',
          paymentAttemptAbove: 1,
        });
      } finally {
        for (const { spy } of spies) spy.mockRestore();
      }
      expect(await statusOf(order.id)).toBe('PAYMENT_PROCESSING');
    });

    it('handles the same event once, and logs-and-ignores late or illegal ones', async () => {
      const order = await placeOrder();
      const reserved = createEvent('product-service', 'inventory.reserved', {
        orderId: order.id,
        items: [],
      });
      await bus.publish(reserved);
      await bus.publish(reserved);
      await waitStatus(order.id, 'PAYMENT_PROCESSING');
      await deliver('payment.completed', {
        paymentId: 'pay-2',
        orderId: order.id,
        amount: { amount: 3998, currency: 'USD' },
      });
      await waitStatus(order.id, 'CONFIRMED');
      // Late: a second reservation and a payment failure after confirmation change nothing.
      await deliver('inventory.reserved', { orderId: order.id, items: [] });
      await deliver('payment.failed', {
        paymentId: 'pay-2',
        orderId: order.id,
        reason: 'late',
        code: 'card_declined',
        retryable: false,
      });
      await deliver('inventory.rejected', {
        orderId: order.id,
        productId: 'p-widget',
        reason: 'INSUFFICIENT_STOCK',
        requested: 2,
        available: 0,
      });
      await bus.idle();
      const processed = await pool.query(
        "SELECT count(*) FROM processed_events WHERE consumer = 'order' AND event_id = $1",
        [reserved.eventId],
      );
      expect(Number(processed.rows[0].count)).toBe(1);
      expect(await statusOf(order.id)).toBe('CONFIRMED');
      const { rows } = await pool.query(
        'SELECT to_status FROM order_status_history WHERE order_id = $1 ORDER BY id',
        [order.id],
      );
      expect(rows.map((r) => r.to_status)).toEqual(['PENDING', 'PAYMENT_PROCESSING', 'CONFIRMED']);
      expect(spy.of('order.confirmed', order.id)).toHaveLength(1);
      expect(spy.of('order.failed', order.id)).toHaveLength(0);
    });

    it('fails on inventory.rejected with the reason and emits order.failed', async () => {
      const order = await placeOrder();
      await deliver('inventory.rejected', {
        orderId: order.id,
        productId: 'p-widget',
        reason: 'INSUFFICIENT_STOCK',
        requested: 2,
        available: 1,
      });
      await waitStatus(order.id, 'FAILED');
      const failed = await eventually(() => spy.of('order.failed', order.id)[0]);
      expect(failed.data).toEqual({
        orderId: order.id,
        // Whose order: notification mails them without reading order.created.
        userId: alice.id,
        reason: expect.stringContaining('INSUFFICIENT_STOCK'),
        items: [{ productId: 'p-widget', quantity: 2 }],
      });
      const got = await asUser(alice).get(`/api/orders/${order.id}`);
      expect(got.body.failureReason).toContain('p-widget');
    });

    it('fails on a non-retryable payment.failed; a retryable one sends it back to AWAITING_PAYMENT', async () => {
      const a = await placeOrder();
      await reserve(a.id, 'PAYMENT_PROCESSING');
      await deliver('payment.failed', {
        paymentId: 'p',
        orderId: a.id,
        reason: 'Your card was declined',
        code: 'card_declined',
        retryable: false,
      });
      await waitStatus(a.id, 'FAILED');
      await eventually(() => spy.of('order.failed', a.id).length === 1);

      const b = await gadgetOrder(1);
      await reserve(b.id, 'AWAITING_PAYMENT');
      await deliver('payment.initiated', {
        paymentId: 'p',
        orderId: b.id,
        amount: { amount: 250, currency: 'USD' },
        attempt: 1,
        source: 'initiate',
      });
      await waitStatus(b.id, 'PAYMENT_PROCESSING');
      await deliver('payment.failed', {
        paymentId: 'p',
        orderId: b.id,
        reason: 'declined',
        code: 'card_declined',
        retryable: true,
      });
      await waitStatus(b.id, 'AWAITING_PAYMENT');
      expect(spy.of('order.failed', b.id)).toHaveLength(0);
    });

    it('leaves a payment.initiated on the details the order came with to inventory.reserved, without a transaction', async () => {
      const charged = { amount: { amount: 3998, currency: 'USD' }, attempt: 1 };
      // Payment charges the order's own details only after it saw the reservation, and the
      // reservation moves the order itself; its "initiated" may still overtake it on the bus.
      const order = await placeOrder();
      const initiated = await deliver('payment.initiated', {
        ...charged,
        paymentId: 'pay-own',
        orderId: order.id,
        source: 'order',
      });
      // One from a publisher that does not say who started the attempt is handled as before.
      const older = await placeOrder();
      await deliver('payment.initiated', { ...charged, paymentId: 'pay-old', orderId: older.id });
      await waitStatus(older.id, 'PAYMENT_PROCESSING');
      await bus.idle();
      expect(await statusOf(order.id)).toBe('PENDING');
      const recorded = await pool.query('SELECT 1 FROM processed_events WHERE event_id = $1', [
        initiated.eventId,
      ]);
      expect(recorded.rows).toHaveLength(0);

      const reserved = await deliver(
        'inventory.reserved',
        { orderId: order.id, items: [{ productId: 'p-widget', quantity: 2 }] },
        'product-service',
      );
      await waitStatus(order.id, 'PAYMENT_PROCESSING');
      const history = await historyOf(order.id, alice);
      expect(history.body.history[1].cause).toEqual({
        type: 'event',
        eventId: reserved.eventId,
        eventType: 'inventory.reserved',
      });
    });

    it('ignores a payment.initiated that arrives after the decline of the same attempt', async () => {
      const order = await gadgetOrder(1);
      await reserve(order.id, 'AWAITING_PAYMENT');
      // The bus does not order events: the decline of attempt 1 overtakes its "initiated".
      await deliver('payment.failed', {
        paymentId: 'p',
        orderId: order.id,
        reason: 'declined',
        code: 'card_declined',
        retryable: true,
        attempt: 1,
      });
      await bus.idle();
      await deliver('payment.initiated', {
        paymentId: 'p',
        orderId: order.id,
        amount: { amount: 250, currency: 'USD' },
        attempt: 1,
      });
      await bus.idle();
      const stale = await asUser(alice).get(`/api/orders/${order.id}`);
      expect(stale.body.status).toBe('AWAITING_PAYMENT');

      // The next attempt still moves it on.
      await deliver('payment.initiated', {
        paymentId: 'p',
        orderId: order.id,
        amount: { amount: 250, currency: 'USD' },
        attempt: 2,
      });
      await waitStatus(order.id, 'PAYMENT_PROCESSING');
    });

    it('cancels an order waiting for payment when its reservation expires', async () => {
      const order = await gadgetOrder(2);
      const started = Date.now();
      await reserve(order.id, 'AWAITING_PAYMENT');
      const got = await asUser(alice).get(`/api/orders/${order.id}`);
      expect(Date.parse(got.body.reservationExpiresAt) - started).toBeGreaterThanOrEqual(300);
      await waitStatus(order.id, 'CANCELLED');
      expect(Date.now() - started).toBeGreaterThanOrEqual(380);
      const cancelled = await eventually(() => spy.of('order.cancelled', order.id)[0]);
      expect(cancelled.data).toMatchObject({
        orderId: order.id,
        userId: alice.id,
        reason: 'RESERVATION_EXPIRED',
        previousStatus: 'AWAITING_PAYMENT',
        items: [{ productId: 'p-gadget', quantity: 2 }],
      });
      const history = await historyOf(order.id, alice);
      expect(history.body.history.at(-1)).toMatchObject({
        from: 'AWAITING_PAYMENT',
        to: 'CANCELLED',
        cause: { type: 'system', name: 'reservation-expiry' },
        reason: 'RESERVATION_EXPIRED',
      });
      // Correlation survives the timer: the sweeper uses the order's own correlation id.
      const created = spy.of('order.created', order.id)[0]!;
      expect(cancelled.metadata.correlationId).toBe(created.metadata.correlationId);
    });

    it('asks product to release again when a reservation arrives for an order cancelled while PENDING', async () => {
      const order = await placeOrder();
      const cancelled = await cancel(order.id, alice);
      expect(cancelled.status).toBe(200);
      await eventually(() => spy.of('order.cancelled', order.id).length === 1);
      await deliver('inventory.reserved', { orderId: order.id, items: [] });
      await eventually(() => spy.of('order.cancelled', order.id).length === 2);
      const twice = spy.of('order.cancelled', order.id);
      expect(twice[1]!.data).toMatchObject({
        reason: 'LATE_RESERVATION',
        previousStatus: 'PENDING',
      });
      expect(await statusOf(order.id)).toBe('CANCELLED');
    });

    it('records refunds reported by payment', async () => {
      const order = await placeOrder();
      await deliver('payment.refunded', {
        paymentId: 'p',
        orderId: order.id,
        refundId: 'r1',
        amount: { amount: 1000, currency: 'USD' },
        fullyRefunded: false,
      });
      await eventually(async () => {
        const got = await asUser(alice).get(`/api/orders/${order.id}`);
        return got.body.refunded.amount === 1000;
      });
    });

    it('dead-letters a payload that breaks its contract at once, with the reason, changing nothing', async () => {
      const order = await placeOrder();
      const bad = await deliver('payment.completed', { orderId: order.id });
      await bus.idle();
      expect(await statusOf(order.id)).toBe('PENDING');
      expect(bus.deadLetters.filter((d) => d.event?.eventId === bad.eventId)).toEqual([
        expect.objectContaining({
          group: 'order',
          attempts: 1,
          reason: 'invalid payment.completed payload: paymentId: any.required',
        }),
      ]);
      const metrics = (await api().get('/metrics')).text;
      expect(metrics).toMatch(
        /events_dead_lettered_total\{group="order",event_type="payment.completed",service="order"\} [1-9]/,
      );
    });
  });

  describe('PUT /api/orders/:id/cancel and /status', () => {
    async function confirmedOrder(body?: Record<string, unknown>) {
      const order = await placeOrder(alice, body);
      await reserve(order.id, 'PAYMENT_PROCESSING');
      await deliver('payment.completed', {
        paymentId: 'pay-x',
        orderId: order.id,
        amount: { amount: 1, currency: 'USD' },
      });
      await waitStatus(order.id, 'CONFIRMED');
      return order;
    }

    it('lets the owner cancel a confirmed order, once, and emits order.cancelled', async () => {
      const order = await confirmedOrder();
      expect((await cancel(order.id, bob)).status).toBe(404);
      const res = await asUser(alice)
        .put(`/api/orders/${order.id}/cancel`)
        .set('x-request-id', 'req-cancel-0001')
        .send({ reason: 'changed my mind' });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('CANCELLED');
      const cancelled = await eventually(() => spy.of('order.cancelled', order.id)[0]);
      expect(cancelled.data).toEqual({
        orderId: order.id,
        userId: alice.id,
        reason: 'changed my mind',
        previousStatus: 'CONFIRMED',
        items: [{ productId: 'p-widget', quantity: 2 }],
      });
      const again = await cancel(order.id, alice);
      expect(again.status).toBe(409);
      const history = await historyOf(order.id, alice);
      expect(history.body.history.at(-1)).toMatchObject({
        to: 'CANCELLED',
        cause: { type: 'request', requestId: 'req-cancel-0001', userId: alice.id },
        reason: 'changed my mind',
      });
    });

    it('cancels a confirmed order refunded in full (REFUNDED, order.cancelled releases its stock); a partial refund, or a shipped order, keeps its course', async () => {
      const refund = (orderId: string, refundId: string, amount: number, fullyRefunded: boolean) =>
        deliver('payment.refunded', {
          paymentId: 'pay-x',
          orderId,
          refundId,
          amount: { amount, currency: 'USD' },
          fullyRefunded,
          userId: alice.id,
        });
      const partly = await confirmedOrder();
      await refund(partly.id, 'r-part', 1, false);
      await eventually(
        async () =>
          (await asUser(alice).get(`/api/orders/${partly.id}`)).body.refunded.amount === 1,
      );
      expect(await statusOf(partly.id)).toBe('CONFIRMED');

      const whole = await confirmedOrder();
      await refund(whole.id, 'r-all', 1, true);
      await waitStatus(whole.id, 'CANCELLED');
      const cancelled = await eventually(() => spy.of('order.cancelled', whole.id)[0]);
      expect(cancelled.data).toMatchObject({ reason: 'REFUNDED', previousStatus: 'CONFIRMED' });
      const history = await historyOf(whole.id, alice);
      expect(history.body.history.at(-1)).toMatchObject({ from: 'CONFIRMED', to: 'CANCELLED' });
      // The same refund again (a redelivery) changes nothing more.
      await refund(whole.id, 'r-all', 1, true);
      await bus.idle();
      expect(spy.of('order.cancelled', whole.id)).toHaveLength(1);

      const sent = await confirmedOrder();
      expect((await setStatus(sent.id, admin, 'SHIPPED')).status).toBe(200);
      await refund(sent.id, 'r-sent', 1, true);
      await eventually(
        async () => (await asUser(alice).get(`/api/orders/${sent.id}`)).body.refunded.amount === 1,
      );
      expect(await statusOf(sent.id)).toBe('SHIPPED');
      expect(spy.of('order.cancelled', sent.id)).toHaveLength(0);
    });

    it("shows the customer who acted only when it was them: an admin's id stays out of their history", async () => {
      const order = await confirmedOrder();
      expect((await setStatus(order.id, admin, 'SHIPPED')).status).toBe(200);
      const mine = await historyOf(order.id, alice);
      expect(mine.body.history[0].cause).toMatchObject({ type: 'request', userId: alice.id });
      const shipped = mine.body.history.at(-1);
      expect(shipped).toMatchObject({ to: 'SHIPPED', cause: { type: 'request' } });
      expect(shipped.cause.userId).toBeUndefined();
      expect(typeof shipped.cause.requestId).toBe('string');
      expect(JSON.stringify(mine.body)).not.toContain(admin.id);
      const staff = await historyOf(order.id, admin);
      expect(staff.body.history.at(-1).cause).toMatchObject({ type: 'request', userId: admin.id });
    });

    it('ships and delivers by admin or the line seller, emits order.completed, refuses illegal moves with 409', async () => {
      const order = await confirmedOrder();
      expect((await setStatus(order.id, alice, 'SHIPPED')).status).toBe(403);
      expect((await setStatus(order.id, otherSeller, 'SHIPPED')).status).toBe(404);
      expect((await setStatus(order.id, admin, 'CONFIRMED')).status).toBe(400);
      const illegal = await setStatus(order.id, admin, 'DELIVERED');
      expect(illegal.status).toBe(409);
      expect(illegal.body.error.details).toMatchObject({
        status: 'CONFIRMED',
        requested: 'DELIVERED',
      });
      const shipped = await setStatus(order.id, seller, 'SHIPPED');
      expect(shipped.status).toBe(200);
      expect(shipped.body.status).toBe('SHIPPED');
      expect((await cancel(order.id, alice)).status).toBe(409);
      const delivered = await setStatus(order.id, admin, 'DELIVERED');
      expect(delivered.status).toBe(200);
      await eventually(() => spy.of('order.completed', order.id).length === 1);
      expect((await setStatus(order.id, admin, 'SHIPPED')).status).toBe(409);
      const anchors = anchor.of(order.id).map((e) => (e.change as { to: string }).to);
      expect(anchors).toEqual([
        'PENDING',
        'PAYMENT_PROCESSING',
        'CONFIRMED',
        'SHIPPED',
        'DELIVERED',
      ]);
    });

    it('refuses shipping an unpaid order', async () => {
      const order = await placeOrder();
      const res = await setStatus(order.id, admin, 'SHIPPED');
      expect(res.status).toBe(409);
      expect(await statusOf(order.id)).toBe('PENDING');
    });
  });

  it('reports readiness from PostgreSQL and the bus', async () => {
    await expectReady(api, ['postgres', 'eventBus']);
  });
});
