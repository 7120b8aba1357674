import request from 'supertest';
import type { AuthUser } from '@ecom/common/auth';
import { eventually, requestsAs } from '@ecom/test-support';
import { startOrderUnderTest } from './support/helpers';

const alice = { id: 'cart-alice', role: 'customer' as const };
const bob = { id: 'cart-bob', role: 'customer' as const };
const address = {
  name: 'Alice Doe',
  line1: '1 Main St',
  city: 'Springfield',
  postalCode: '12345',
  country: 'US',
};
const card = { method: 'card', token: 'tok_visa' };

describe('carts and checkout (real PostgreSQL, product over HTTP)', () => {
  let h: Awaited<ReturnType<typeof startOrderUnderTest>>;

  beforeAll(async () => {
    h = await startOrderUnderTest({
      label: 'order_carts',
      products: [
        { id: 'p-mug', name: 'Mug', priceCents: 1200 },
        { id: 'p-tea', name: 'Tea', priceCents: 450 },
        { id: 'p-rare', name: 'Rare thing', priceCents: 9900, available: 1 },
        { id: 'p-euro', name: 'Euro thing', priceCents: 100, currency: 'EUR' },
        // A price no real product has (product caps at 1,000,000.00): 100 units overflow a total.
        { id: 'p-gold', name: 'Gold', priceCents: 100_000_000_000_000 },
      ],
      env: {
        SWEEP_INTERVAL_MS: '600000',
        CART_GUEST_IDLE_MS: '3600000',
        CART_GUEST_EMPTY_IDLE_MS: '600000',
        UNPAID_HOLD_MAX_ORDERS: '2',
      },
    });
  });

  afterAll(() => h?.close());

  beforeEach(async () => {
    await h.pool.query('DELETE FROM carts');
    for (const [id, price] of [
      ['p-mug', 1200],
      ['p-tea', 450],
    ] as const) {
      h.product.products.get(id)!.priceCents = price;
      h.product.products.get(id)!.currency = 'USD';
    }
  });

  const api = () => request(h.service.app);
  const as = (user: AuthUser) => requestsAs(api, user);
  const add = (user: AuthUser, productId: string, quantity: number) =>
    as(user).post('/api/carts/mine/items').send({ productId, quantity });
  const checkout = (
    user: AuthUser,
    key?: string,
    body: object = { payment: card, shippingAddress: address },
  ) => {
    const req = as(user).post('/api/carts/mine/checkout');
    return (key ? req.set('Idempotency-Key', key) : req).send(body);
  };
  const guest = async () => {
    const res = await api().post('/api/carts/guest');
    expect(res.status).toBe(201);
    return res.body.cartToken as string;
  };
  const asGuest = (token: string) => ({
    get: () => api().get('/api/carts/mine').set('X-Cart-Token', token),
    add: (productId: string, quantity: number) =>
      api().post('/api/carts/mine/items').set('X-Cart-Token', token).send({ productId, quantity }),
    remove: (productId: string) =>
      api().delete(`/api/carts/mine/items/${productId}`).set('X-Cart-Token', token),
  });
  const ordersOf = async (userId: string) =>
    (await h.pool.query('SELECT id, total_cents FROM orders WHERE user_id = $1', [userId])).rows;
  const cartRow = async (userId: string) =>
    (await h.pool.query("SELECT * FROM carts WHERE user_id = $1 AND status = 'OPEN'", [userId]))
      .rows[0];

  it("keeps a customer's lines priced live: add grows a line, set changes it, 0 or DELETE removes it", async () => {
    const empty = await as(alice).get('/api/carts/mine');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ id: null, lines: [], total: null, itemCount: 0 });

    await add(alice, 'p-mug', 1).expect(200);
    const grown = await add(alice, 'p-mug', 2);
    expect(grown.body.lines).toEqual([
      expect.objectContaining({
        productId: 'p-mug',
        name: 'Mug',
        quantity: 3,
        unitPrice: { amount: 1200, currency: 'USD' },
        lineTotal: { amount: 3600, currency: 'USD' },
        available: 10,
        inStock: true,
      }),
    ]);
    const two = await add(alice, 'p-tea', 2);
    expect(two.body).toMatchObject({ total: { amount: 4500, currency: 'USD' }, itemCount: 5 });

    const set = await as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 1 });
    expect(set.status).toBe(200);
    expect(set.body.total).toEqual({ amount: 4050, currency: 'USD' });
    await as(alice).delete('/api/carts/mine/items/p-tea').expect(204);
    await as(alice).put('/api/carts/mine/items/p-mug').send({ quantity: 0 }).expect(200);
    expect((await as(alice).get('/api/carts/mine')).body).toMatchObject({ lines: [], total: null });
    await as(alice).delete('/api/carts/mine/items/p-mug').expect(404);

    const replaced = await as(alice)
      .put('/api/carts/mine')
      .send({ items: [{ productId: 'p-tea', quantity: 4 }] });
    expect(replaced.body.total).toEqual({ amount: 1800, currency: 'USD' });
    await as(alice).put('/api/carts/mine').send({ items: [] }).expect(200);
    expect((await cartRow(alice.id)).lines).toEqual([]);
  });

  it('shows a live price change with the price it replaced', async () => {
    await add(alice, 'p-mug', 1).expect(200);
    h.product.products.get('p-mug')!.priceCents = 1500;
    const res = await as(alice).get('/api/carts/mine');
    expect(res.body.lines[0]).toMatchObject({
      unitPrice: { amount: 1500, currency: 'USD' },
      previousUnitPriceCents: 1200,
    });
    // Shown once: the next answer has nothing left to flag.
    expect(
      (await as(alice).get('/api/carts/mine')).body.lines[0].previousUnitPriceCents,
    ).toBeNull();
  });

  it('refuses bad input with 4xx and leaves the cart as it was', async () => {
    await add(alice, 'p-mug', 2).expect(200);
    const before = await cartRow(alice.id);
    const cases = [
      () => add(alice, 'p-mug', 0),
      () => add(alice, 'p-mug', -1),
      () => as(alice).post('/api/carts/mine/items').send({ productId: 'p-mug', quantity: '2' }),
      () =>
        as(alice)
          .post('/api/carts/mine/items')
          .send({ productId: { $gt: '' }, quantity: 1 }),
      () =>
        as(alice).post('/api/carts/mine/items').send({ productId: 'p-mug', quantity: 1, price: 1 }),
      () => add(alice, 'p-mug', 99), // 101 units: over the per-product limit
      () => add(alice, 'p-none', 1),
      () => add(alice, 'p-euro', 1),
      () => as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 1 }),
      () =>
        as(alice)
          .put('/api/carts/mine')
          .send({
            items: [
              { productId: 'p-mug', quantity: 1 },
              { productId: 'p-mug', quantity: 2 },
            ],
          }),
      () => as(alice).post('/api/carts/mine/merge').send({ cartToken: 'not-a-token' }),
      () =>
        as(alice)
          .post('/api/carts/mine/checkout')
          .send({ payment: { method: 'cash' } }),
    ];
    const statuses = [];
    for (const send of cases) {
      const res = await send();
      statuses.push(res.status);
      expect(res.body.error).toEqual(expect.objectContaining({ code: expect.any(String) }));
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 422, 422, 422, 404, 400, 400, 400]);
    const after = await cartRow(alice.id);
    expect(after.lines).toEqual(before.lines);
    expect(after.version).toBe(before.version);
    expect(await ordersOf(alice.id)).toEqual([]);
  });

  it('gives a guest a cart by token (stored only as a hash); no token, a bad one or an unknown one get no cart', async () => {
    const token = await guest();
    expect(token).toMatch(/^ct_[A-Za-z0-9_-]{43}$/);
    const added = await asGuest(token).add('p-tea', 2);
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ kind: 'guest', total: { amount: 900, currency: 'USD' } });
    expect((await asGuest(token).get()).body.lines).toHaveLength(1);

    const { rows } = await h.pool.query('SELECT * FROM carts WHERE token_hash IS NOT NULL');
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token.slice(3));

    expect((await api().get('/api/carts/mine')).status).toBe(401);
    expect((await asGuest('ct_short').get()).status).toBe(400);
    const other = `ct_${'A'.repeat(43)}`;
    expect((await asGuest(other).get()).status).toBe(404);
    expect((await asGuest(other).add('p-tea', 1)).status).toBe(404);
    // A guest cannot check out: that needs an account.
    const anonymous = await api()
      .post('/api/carts/mine/checkout')
      .set('X-Cart-Token', token)
      .send({ payment: card, shippingAddress: address });
    expect(anonymous.status).toBe(401);
  });

  it("keeps each customer's cart their own: a token beside a signed-in user reaches only the user's cart", async () => {
    await add(alice, 'p-mug', 1).expect(200);
    const token = await guest();
    await asGuest(token).add('p-tea', 5).expect(200);
    expect((await as(bob).get('/api/carts/mine')).body).toMatchObject({ id: null, lines: [] });
    await as(bob).delete('/api/carts/mine/items/p-mug').expect(404);
    const withBoth = await as(bob).get('/api/carts/mine').set('X-Cart-Token', token);
    expect(withBoth.body).toMatchObject({ kind: 'customer', lines: [] });
    expect((await as(alice).get('/api/carts/mine')).body.lines).toEqual([
      expect.objectContaining({ productId: 'p-mug', quantity: 1 }),
    ]);
    expect(await checkout(bob).then((r) => [r.status, r.body.error.code])).toEqual([
      422,
      'CART_EMPTY',
    ]);
  });

  it("merges a guest cart into the customer's at login, once", async () => {
    await add(alice, 'p-mug', 1).expect(200);
    const token = await guest();
    await asGuest(token).add('p-mug', 2).expect(200);
    await asGuest(token).add('p-tea', 1).expect(200);

    const merged = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
    expect(merged.status).toBe(200);
    expect(merged.body).toMatchObject({ kind: 'customer', leftOut: [], itemCount: 4 });
    expect(
      merged.body.lines.map((l: { productId: string; quantity: number }) => [
        l.productId,
        l.quantity,
      ]),
    ).toEqual([
      ['p-mug', 3],
      ['p-tea', 1],
    ]);
    // The guest cart is closed: its token works no more, and a second merge adds nothing.
    expect((await asGuest(token).get()).status).toBe(404);
    const again = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
    expect([again.status, again.body.error.details.reason]).toEqual([404, 'CART_NOT_FOUND']);
    expect((await as(alice).get('/api/carts/mine')).body.itemCount).toBe(4);
  });

  it("checks out into one order through the saga's order.created, closes the cart, and a repeat with the key replays it", async () => {
    await add(alice, 'p-mug', 2).expect(200);
    await add(alice, 'p-tea', 1).expect(200);
    const res = await checkout(alice, 'checkout-key-1');
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/orders/${res.body.id}`);
    expect(res.body).toMatchObject({
      status: 'PENDING',
      total: { amount: 2850, currency: 'USD' },
      items: [
        expect.objectContaining({ productId: 'p-mug', quantity: 2 }),
        expect.objectContaining({ productId: 'p-tea', quantity: 1 }),
      ],
    });
    await eventually(() => h.spy.of('order.created', res.body.id).length === 1, {
      what: 'order.created',
    });
    const [created] = h.spy.of('order.created', res.body.id);
    expect((created!.data as { payment: unknown }).payment).toEqual(card);

    const replay = await checkout(alice, 'checkout-key-1');
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body.id).toBe(res.body.id);
    // The cart is closed with its order; the customer starts again with an empty one.
    expect((await as(alice).get('/api/carts/mine')).body).toMatchObject({ id: null, lines: [] });
    const closed = await h.pool.query('SELECT status, order_id FROM carts WHERE user_id = $1', [
      alice.id,
    ]);
    expect(closed.rows).toEqual([{ status: 'CHECKED_OUT', order_id: res.body.id }]);
    expect(await checkout(alice).then((r) => r.body.error.code)).toBe('CART_EMPTY');
    expect(await ordersOf(alice.id)).toHaveLength(1);
    await h.pool.query('DELETE FROM orders');
  });

  it('makes one order of a checkout raced many times, with or without keys', async () => {
    await add(alice, 'p-mug', 1).expect(200);
    const racers = await Promise.all([
      checkout(alice, 'race-a'),
      checkout(alice, 'race-b'),
      checkout(alice),
      checkout(alice),
      checkout(alice, 'race-a'),
      checkout(alice, 'race-a'),
    ]);
    const won = racers.filter((r) => r.status === 201);
    const ids = new Set(won.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const lost = racers.filter((r) => r.status !== 201);
    for (const r of lost) {
      expect([409, 422]).toContain(r.status);
      expect(['CONFLICT', 'CART_EMPTY']).toContain(r.body.error.code);
    }
    expect(await ordersOf(alice.id)).toHaveLength(1);
    const [order] = await ordersOf(alice.id);
    expect(ids.has(order.id)).toBe(true);
    await h.pool.query('DELETE FROM orders');
  });

  it('refuses checkout at a changed price with a 409 carrying the new total; the same checkout then goes ahead', async () => {
    await add(alice, 'p-mug', 2).expect(200);
    h.product.products.get('p-mug')!.priceCents = 1300;
    const refused = await checkout(alice, 'price-key');
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toMatchObject({
      reason: 'PRICE_CHANGED',
      total: { amount: 2600, currency: 'USD' },
      changed: [
        {
          productId: 'p-mug',
          previousUnitPrice: { amount: 1200, currency: 'USD' },
          unitPrice: { amount: 1300, currency: 'USD' },
        },
      ],
    });
    expect(await ordersOf(alice.id)).toEqual([]);
    const accepted = await checkout(alice, 'price-key');
    expect(accepted.status).toBe(201);
    expect(accepted.body.total).toEqual({ amount: 2600, currency: 'USD' });
    await h.pool.query('DELETE FROM orders');
  });

  it('refuses checkout of more units than product has free, and of a product no longer sold', async () => {
    await add(alice, 'p-rare', 2).expect(200);
    const short = await checkout(alice);
    expect([short.status, short.body.error.details]).toEqual([
      409,
      { reason: 'OUT_OF_STOCK', lines: [{ productId: 'p-rare', requested: 2, available: 1 }] },
    ]);
    await as(alice).put('/api/carts/mine/items/p-rare').send({ quantity: 0 }).expect(200);
    await add(alice, 'p-tea', 1).expect(200);
    const tea = h.product.products.get('p-tea')!;
    h.product.products.delete('p-tea');
    try {
      const view = await as(alice).get('/api/carts/mine');
      expect(view.body).toMatchObject({ lines: [], unavailable: ['p-tea'], total: null });
      const gone = await checkout(alice);
      expect([gone.status, gone.body.error.details.reason]).toEqual([409, 'PRODUCT_UNAVAILABLE']);
    } finally {
      h.product.products.set('p-tea', tea);
    }
    expect(await ordersOf(alice.id)).toEqual([]);
  });

  it('answers 503 while product is down and changes nothing; removing a line needs no price', async () => {
    await add(alice, 'p-mug', 1).expect(200);
    await add(alice, 'p-tea', 2).expect(200);
    const before = await cartRow(alice.id);
    h.product.state.down = true;
    try {
      expect((await add(alice, 'p-rare', 1)).status).toBe(503);
      expect(
        (await as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 5 })).status,
      ).toBe(503);
      const replace = { items: [{ productId: 'p-mug', quantity: 4 }] };
      expect((await as(alice).put('/api/carts/mine').send(replace)).status).toBe(503);
      expect((await checkout(alice)).status).toBe(503);
      expect((await cartRow(alice.id)).lines).toEqual(before.lines);
      await as(alice).delete('/api/carts/mine/items/p-tea').expect(204);
    } finally {
      h.product.state.down = false;
    }
    expect((await cartRow(alice.id)).lines.map((l: { productId: string }) => l.productId)).toEqual([
      'p-mug',
    ]);
    expect(await ordersOf(alice.id)).toEqual([]);
  });

  it("forgets an empty guest cart sooner than one holding items, and never a customer's", async () => {
    await add(alice, 'p-tea', 1).expect(200);
    const empty = await guest();
    const emptied = await guest();
    await asGuest(emptied).add('p-mug', 1).expect(200);
    await asGuest(emptied).remove('p-mug').expect(204);
    const holding = await guest();
    await asGuest(holding).add('p-mug', 2).expect(200);
    // Untouched for 20 minutes: past the empty carts' 10, well within the others' hour.
    await h.pool.query("UPDATE carts SET updated_at = now() - interval '20 minutes'");
    await h.service.carts.sweep();
    expect((await asGuest(empty).get()).status).toBe(404);
    expect((await asGuest(emptied).get()).status).toBe(404);
    expect((await asGuest(holding).get()).body.itemCount).toBe(2);
    expect((await as(alice).get('/api/carts/mine')).body.itemCount).toBe(1);
    // A fresh empty cart is kept: it may be filled yet.
    const fresh = await guest();
    await h.service.carts.sweep();
    expect((await asGuest(fresh).get()).status).toBe(200);
  });

  it('never forgets a cart a guest fills while the sweep runs', async () => {
    const made = await api().post('/api/carts/guest');
    const token = made.body.cartToken as string;
    await h.pool.query("UPDATE carts SET updated_at = now() - interval '20 minutes'");
    // The guest's first add, as the service writes it: the row locked, a line, not yet committed.
    const client = await h.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `UPDATE carts SET lines = '[{"productId":"p-mug","quantity":1}]', updated_at = now()
          WHERE id = $1`,
        [made.body.id],
      );
      const sweeping = h.service.carts.sweep();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await client.query('COMMIT');
      await sweeping;
    } finally {
      client.release();
    }
    expect((await asGuest(token).get()).body.itemCount).toBe(1);
  });

  it('sweeps batch after batch until the empty guest carts are gone', async () => {
    // More than one statement's batch (1,000), made faster than a run of the sweeper takes one.
    await h.pool.query(
      `INSERT INTO carts (id, token_hash, updated_at)
       SELECT gen_random_uuid(), md5('bulk' || i), now() - interval '20 minutes'
         FROM generate_series(1, 2500) AS i`,
    );
    expect(await h.service.carts.sweep()).toBeGreaterThanOrEqual(2500);
    const { rows } = await h.pool.query(
      `SELECT count(*)::int AS n FROM carts
        WHERE token_hash IS NOT NULL AND lines = '[]'::jsonb AND updated_at < now() - interval '15 minutes'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('keeps carts across a restart; the sweeper forgets idle guest carts only', async () => {
    await add(alice, 'p-tea', 3).expect(200);
    const token = await guest();
    await asGuest(token).add('p-mug', 1).expect(200);
    await h.restart();
    expect((await as(alice).get('/api/carts/mine')).body.itemCount).toBe(3);
    expect((await asGuest(token).get()).body.itemCount).toBe(1);

    await h.pool.query("UPDATE carts SET updated_at = now() - interval '2 hours'");
    // (The sweep that runs at start may take it first: the outcome is what counts.)
    await h.service.sweeper.runOnce();
    await h.service.carts.sweep();
    expect(
      (await h.pool.query('SELECT count(*)::int AS n FROM carts WHERE token_hash IS NOT NULL'))
        .rows,
    ).toEqual([{ n: 0 }]);
    expect((await asGuest(token).get()).status).toBe(404);
    expect((await as(alice).get('/api/carts/mine')).body.itemCount).toBe(3);
  });

  describe('a product changed after it was added', () => {
    const lineIds = (lines: { productId: string; quantity: number }[]) =>
      lines.map((l) => [l.productId, l.quantity]);
    const toEuro = (id: string) => {
      h.product.products.get(id)!.currency = 'EUR';
    };

    it('answers the cart when a seller moves one of its products to another currency: that line is shown apart, the rest stays buyable, checkout waits for its removal', async () => {
      await add(alice, 'p-mug', 1).expect(200);
      await add(alice, 'p-tea', 2).expect(200);
      toEuro('p-tea');

      const view = await as(alice).get('/api/carts/mine');
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({
        itemCount: 1,
        total: { amount: 1200, currency: 'USD' },
        unavailable: ['p-tea'],
        unavailableLines: [
          {
            productId: 'p-tea',
            quantity: 2,
            reason: 'MIXED_CURRENCY',
            name: 'Tea',
            unitPrice: { amount: 450, currency: 'EUR' },
          },
        ],
      });
      expect(lineIds(view.body.lines)).toEqual([['p-mug', 1]]);
      // The cart stays in its currency: more of it may be added, another currency may not.
      await add(alice, 'p-mug', 1).expect(200);
      const euro = await add(alice, 'p-euro', 1);
      expect([euro.status, euro.body.error.code]).toEqual([422, 'MIXED_CURRENCY']);

      const refused = await checkout(alice);
      expect([refused.status, refused.body.error.code, refused.body.error.details]).toEqual([
        422,
        'MIXED_CURRENCY',
        { productIds: ['p-tea'], cartCurrency: 'USD' },
      ]);
      expect(await ordersOf(alice.id)).toEqual([]);

      await as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 0 }).expect(200);
      const placed = await checkout(alice);
      expect([placed.status, placed.body.total]).toEqual([201, { amount: 2400, currency: 'USD' }]);
      await h.pool.query('DELETE FROM orders');
    });

    it("keeps the cart's currency when a seller moves its first line to another currency: that line is shown apart, the others stay buyable", async () => {
      await add(alice, 'p-mug', 1).expect(200);
      await add(alice, 'p-tea', 2).expect(200);
      toEuro('p-mug');

      const view = await as(alice).get('/api/carts/mine');
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({
        currency: 'USD',
        itemCount: 2,
        total: { amount: 900, currency: 'USD' },
        unavailable: ['p-mug'],
        unavailableLines: [
          {
            productId: 'p-mug',
            quantity: 1,
            reason: 'MIXED_CURRENCY',
            name: 'Mug',
            unitPrice: { amount: 1200, currency: 'EUR' },
          },
        ],
      });
      expect(lineIds(view.body.lines)).toEqual([['p-tea', 2]]);
      // The customer keeps adding in the cart's currency; another currency is refused.
      const more = await add(alice, 'p-tea', 1);
      expect([more.status, lineIds(more.body.lines)]).toEqual([200, [['p-tea', 3]]]);
      const euro = await add(alice, 'p-euro', 1);
      expect([euro.status, euro.body.error.code, euro.body.error.details]).toEqual([
        422,
        'MIXED_CURRENCY',
        { productId: 'p-euro', currency: 'EUR', cartCurrency: 'USD' },
      ]);
      expect((await cartRow(alice.id)).currency).toBe('USD');

      const refused = await checkout(alice);
      expect([refused.status, refused.body.error.details]).toEqual([
        422,
        { productIds: ['p-mug'], cartCurrency: 'USD' },
      ]);
      await as(alice).delete('/api/carts/mine/items/p-mug').expect(204);
      const placed = await checkout(alice);
      expect([placed.status, placed.body.total]).toEqual([201, { amount: 1350, currency: 'USD' }]);
      await h.pool.query('DELETE FROM orders');
    });

    it('takes its currency from the first line added to the empty cart, and forgets it when the cart is empty again', async () => {
      const token = await guest();
      expect((await asGuest(token).get()).body).toMatchObject({ currency: null, lines: [] });
      expect((await asGuest(token).add('p-euro', 1)).body.currency).toBe('EUR');

      expect((await add(alice, 'p-mug', 1)).body.currency).toBe('USD');
      await as(alice).delete('/api/carts/mine/items/p-mug').expect(204);
      expect((await cartRow(alice.id)).currency).toBeNull();
      expect((await as(alice).get('/api/carts/mine')).body.currency).toBeNull();
      const euro = await add(alice, 'p-euro', 2);
      expect([euro.status, euro.body.currency, euro.body.total]).toEqual([
        200,
        'EUR',
        { amount: 200, currency: 'EUR' },
      ]);
      const emptied = await as(alice).put('/api/carts/mine/items/p-euro').send({ quantity: 0 });
      expect(emptied.body.currency).toBeNull();
      expect((await add(alice, 'p-tea', 1)).body.currency).toBe('USD');
      // Replacing every line starts the cart again: its first new line sets the currency.
      const replaced = await as(alice)
        .put('/api/carts/mine')
        .send({ items: [{ productId: 'p-euro', quantity: 3 }] });
      expect([replaced.status, replaced.body.currency]).toEqual([200, 'EUR']);
      await as(alice).put('/api/carts/mine').send({ items: [] }).expect(200);
      expect((await cartRow(alice.id)).currency).toBeNull();
    });

    it('ignores a currency left on an emptied cart (a replica of before carts kept theirs emptied it)', async () => {
      await add(alice, 'p-mug', 1).expect(200);
      // Emptied as an older replica does: the lines gone, the currency untouched.
      await h.pool.query(`UPDATE carts SET lines = '[]' WHERE user_id = $1`, [alice.id]);
      expect((await cartRow(alice.id)).currency).toBe('USD');
      const euro = await add(alice, 'p-euro', 1);
      expect([euro.status, euro.body.currency]).toEqual([200, 'EUR']);
    });

    it("gives a cart stored before carts kept their currency its first line still sold's on its first read, and keeps it from then on", async () => {
      await add(alice, 'p-mug', 1).expect(200);
      await add(alice, 'p-tea', 2).expect(200);
      // As migration 010 leaves a cart it finds: no currency.
      await h.pool.query('UPDATE carts SET currency = NULL');
      const before = await cartRow(alice.id);

      expect((await as(alice).get('/api/carts/mine')).body.currency).toBe('USD');
      const after = await cartRow(alice.id);
      expect([after.currency, after.version]).toEqual(['USD', before.version]);
      toEuro('p-mug');
      const view = await as(alice).get('/api/carts/mine');
      expect([view.body.currency, view.body.unavailable]).toEqual(['USD', ['p-mug']]);
    });

    it("merges into the customer's cart in its currency, even when its first line moved; an empty one takes the guest cart's", async () => {
      await add(alice, 'p-mug', 1).expect(200);
      await add(alice, 'p-tea', 1).expect(200);
      const token = await guest();
      await asGuest(token).add('p-euro', 2).expect(200);
      toEuro('p-mug');

      const merged = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
      expect(merged.status).toBe(200);
      expect(merged.body).toMatchObject({
        currency: 'USD',
        total: { amount: 450, currency: 'USD' },
        unavailable: ['p-mug', 'p-euro'],
      });
      expect(lineIds(merged.body.lines)).toEqual([['p-tea', 1]]);
      expect((await cartRow(alice.id)).currency).toBe('USD');

      const euros = await guest();
      await asGuest(euros).add('p-euro', 1).expect(200);
      const intoEmpty = await as(bob).post('/api/carts/mine/merge').send({ cartToken: euros });
      expect([intoEmpty.status, intoEmpty.body.currency, lineIds(intoEmpty.body.lines)]).toEqual([
        200,
        'EUR',
        [['p-euro', 1]],
      ]);
      expect((await cartRow(bob.id)).currency).toBe('EUR');
    });

    it("sets a buyable line's quantity beside a line in another currency, and refuses a quantity of that line without writing it", async () => {
      await add(alice, 'p-mug', 1).expect(200);
      await add(alice, 'p-tea', 2).expect(200);
      toEuro('p-tea');

      const set = await as(alice).put('/api/carts/mine/items/p-mug').send({ quantity: 7 });
      expect(set.status).toBe(200);
      expect(lineIds(set.body.lines)).toEqual([['p-mug', 7]]);
      expect(set.body.unavailable).toEqual(['p-tea']);

      const before = await cartRow(alice.id);
      const refused = await as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 5 });
      expect([refused.status, refused.body.error.code]).toEqual([422, 'MIXED_CURRENCY']);
      const after = await cartRow(alice.id);
      expect([after.lines, after.version]).toEqual([before.lines, before.version]);
    });

    it("merges a guest cart into a customer's cart holding a line in another currency, the line still shown apart", async () => {
      await add(alice, 'p-mug', 7).expect(200);
      await add(alice, 'p-tea', 1).expect(200);
      const token = await guest();
      await asGuest(token).add('p-mug', 5).expect(200);
      toEuro('p-tea');

      const merged = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
      expect(merged.status).toBe(200);
      expect(lineIds(merged.body.lines)).toEqual([['p-mug', 12]]);
      expect(merged.body).toMatchObject({ itemCount: 12, unavailable: ['p-tea'], leftOut: [] });
      expect((await asGuest(token).get()).status).toBe(404);
    });

    it('brings guest lines in another currency than the customer cart along, shown apart', async () => {
      await add(alice, 'p-mug', 1).expect(200);
      const token = await guest();
      await asGuest(token).add('p-euro', 2).expect(200);

      const merged = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
      expect(merged.status).toBe(200);
      expect(lineIds(merged.body.lines)).toEqual([['p-mug', 1]]);
      expect(merged.body.unavailableLines).toEqual([
        {
          productId: 'p-euro',
          quantity: 2,
          reason: 'MIXED_CURRENCY',
          name: 'Euro thing',
          unitPrice: { amount: 100, currency: 'EUR' },
        },
      ]);
    });

    it('writes nothing when a set quantity or a merge is refused once priced', async () => {
      await add(alice, 'p-gold', 40).expect(200);
      const token = await guest();
      await asGuest(token).add('p-gold', 60).expect(200);
      const before = await cartRow(alice.id);

      const set = await as(alice).put('/api/carts/mine/items/p-gold').send({ quantity: 100 });
      expect([set.status, set.body.error.code]).toEqual([422, 'TOTAL_TOO_LARGE']);
      const merged = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
      expect([merged.status, merged.body.error.code]).toEqual([422, 'TOTAL_TOO_LARGE']);

      const after = await cartRow(alice.id);
      expect([after.lines, after.version]).toEqual([before.lines, before.version]);
      // The guest cart is not merged: its token still works.
      expect(lineIds((await asGuest(token).get()).body.lines)).toEqual([['p-gold', 60]]);
    });

    it('merges nothing while product is down (503), the guest cart kept', async () => {
      await add(alice, 'p-mug', 1).expect(200);
      const token = await guest();
      await asGuest(token).add('p-tea', 2).expect(200);
      const before = await cartRow(alice.id);
      h.product.state.down = true;
      try {
        const merged = await as(alice).post('/api/carts/mine/merge').send({ cartToken: token });
        expect(merged.status).toBe(503);
      } finally {
        h.product.state.down = false;
      }
      expect((await cartRow(alice.id)).version).toBe(before.version);
      expect(lineIds((await asGuest(token).get()).body.lines)).toEqual([['p-tea', 2]]);
    });

    it('counts only what can be bought in itemCount, shows a product no longer sold apart, and refuses a quantity of it', async () => {
      await add(alice, 'p-mug', 1).expect(200);
      await add(alice, 'p-tea', 3).expect(200);
      const tea = h.product.products.get('p-tea')!;
      h.product.products.delete('p-tea');
      try {
        const view = await as(alice).get('/api/carts/mine');
        expect(view.body).toMatchObject({
          itemCount: 1,
          total: { amount: 1200, currency: 'USD' },
          unavailable: ['p-tea'],
          unavailableLines: [
            {
              productId: 'p-tea',
              quantity: 3,
              reason: 'PRODUCT_UNAVAILABLE',
              name: null,
              unitPrice: null,
            },
          ],
        });

        const before = await cartRow(alice.id);
        const set = await as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 5 });
        expect([set.status, set.body.error.code]).toEqual([422, 'UNKNOWN_PRODUCT']);
        const after = await cartRow(alice.id);
        expect([after.lines, after.version]).toEqual([before.lines, before.version]);

        // 0 still removes it.
        const removed = await as(alice).put('/api/carts/mine/items/p-tea').send({ quantity: 0 });
        expect([removed.status, removed.body.unavailable]).toEqual([200, []]);
      } finally {
        h.product.products.set('p-tea', tea);
      }
    });
  });

  it('refuses a checkout without payment details past the unpaid-hold limit: the cart stays open, the key replays nothing', async () => {
    const carol = { id: 'cart-carol', role: 'customer' as const };
    // The limit of this file's service (UNPAID_HOLD_MAX_ORDERS 2): two checkouts hold it.
    for (const key of ['unpaid-1', 'unpaid-2']) {
      await add(carol, 'p-mug', 1).expect(200);
      expect((await checkout(carol, key, { shippingAddress: address })).status).toBe(201);
    }
    await add(carol, 'p-mug', 1).expect(200);
    const refused = await checkout(carol, 'unpaid-3', { shippingAddress: address });
    expect([refused.status, refused.body.error.code]).toEqual([422, 'UNPAID_HOLD_LIMIT']);
    expect(await ordersOf(carol.id)).toHaveLength(2);
    expect((await cartRow(carol.id)).lines).toEqual([
      expect.objectContaining({ productId: 'p-mug' }),
    ]);
    // The refusal is not kept under the key: with the payment details it goes ahead.
    const paid = await checkout(carol, 'unpaid-3', { payment: card, shippingAddress: address });
    expect(paid.status).toBe(201);
    expect(await ordersOf(carol.id)).toHaveLength(3);
  });

  it('refuses checkout of an empty cart as empty, before asking for a shipping address', async () => {
    const noAddress = { payment: card };
    const empty = await checkout(bob, undefined, noAddress);
    expect([empty.status, empty.body.error.code]).toEqual([422, 'CART_EMPTY']);
    const keyed = await checkout(bob, 'empty-no-address', noAddress);
    expect([keyed.status, keyed.body.error.code]).toEqual([422, 'CART_EMPTY']);
    // A cart holding something still needs an address (bob has none in his profile).
    await add(bob, 'p-mug', 1).expect(200);
    const held = await checkout(bob, undefined, noAddress);
    expect([held.status, held.body.error.code]).toEqual([422, 'SHIPPING_ADDRESS_REQUIRED']);
  });
});
