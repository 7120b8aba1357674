import { Types } from 'mongoose';
import request from 'supertest';
import type { AuthUser } from '@ecom/common/auth';
import { createEvent } from '@ecom/common/bus';
import { createProductClient } from '@ecom/common/client';
import { bearer, expectReady, indexKeyPatterns, requestsAs } from '@ecom/test-support';
import { categorySchema, categoryTreeSchema, productSchema } from '../src/http/api';
import { admin, customer, otherSeller, seller, useHarness } from './support/helpers';

const h = useHarness('product_catalog');

const api = () => request(h.service.app);
const asUser = (user: AuthUser) => requestsAs(api, user);

async function createProduct(body: Record<string, unknown>, as = seller) {
  const res = await asUser(as)
    .post('/api/products')
    .send({ name: 'Widget', price: 10, inventory: 10, ...body });
  expect(res.status).toBe(201);
  return res.body as {
    id: string;
    price: { amount: number; currency: string };
    [k: string]: unknown;
  };
}

/** Fails with the first difference when an answer breaks the schema the API spec declares. */
function expectShape(
  schema: { validate(v: unknown, o: object): { error?: Error } },
  body: unknown,
) {
  const { error } = schema.validate(body, { presence: 'required' });
  expect(error?.message).toBeUndefined();
}

describe('create and read', () => {
  it('takes a decimal price and answers it exactly as money in minor units', async () => {
    const p = await createProduct({
      name: 'Exact',
      price: 19.99,
      description: 'precise',
      attributes: { color: 'red', size: 42 },
    });
    expect(p.price).toEqual({ amount: 1999, currency: 'USD' });
    expect(p.sellerId).toBe(seller.id);
    const got = await api().get(`/api/products/${p.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: p.id,
      price: { amount: 1999, currency: 'USD' },
      attributes: { color: 'red', size: 42 },
    });
    expect(got.body.priceCents).toBeUndefined();
    expect(got.body.currency).toBeUndefined();
    expect(got.body.inventory).toEqual({ available: 10, reserved: 0, lowStockThreshold: 5 });
    expect(got.body.holds).toBeUndefined();
    expectShape(productSchema, got.body);
  });

  it.each([
    [0.29, 29],
    [4.35, 435],
    [0.1, 10],
    [1000000, 100000000],
  ])('converts %p to %p cents exactly', async (price, amount) => {
    const p = await createProduct({ price, currency: 'EUR' });
    expect(p.price).toEqual({ amount, currency: 'EUR' });
  });

  it('answers 201 with the Location of the new product, for the body the original brief sends', async () => {
    await asUser(admin).post('/api/products/categories').send({ name: 'Electronics' }).expect(201);
    const created = await asUser(seller).post('/api/products').send({
      name: 'Laptop',
      description: 'A fast one',
      price: 1299.99,
      inventory: 50,
      category: 'electronics',
    });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`/api/products/${created.body.id}`);
    expect(created.body).toMatchObject({
      name: 'Laptop',
      price: { amount: 129999, currency: 'USD' },
      category: 'electronics',
      inventory: { available: 50 },
    });
    expect((await api().get(created.headers.location)).body).toEqual(created.body);
  });

  it('answers what the other services read through the common product client', async () => {
    const p = await createProduct({ name: 'Client read', price: 7.5, inventory: 4 });
    const client = createProductClient({ baseUrl: h.service.url });
    expect(await client.get(p.id)).toEqual({
      id: p.id,
      name: 'Client read',
      sellerId: seller.id,
      price: { amount: 750, currency: 'USD' },
      available: 4,
    });
    expect(await client.get('0123456789abcdef01234567')).toBeNull();
    expect(await client.get('not-an-id')).toBeNull();
  });

  it('reads a product for a quote through the driver, without its holds or rating revision', async () => {
    const p = await createProduct({ name: 'Quoted', price: 3, inventory: 2 });
    const model = h.service.connection.model('Product');
    const queries = jest.spyOn(model, 'findOne');
    const commands = jest.spyOn(model.collection, 'findOne');
    try {
      const res = await api().get(`/api/products/${p.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: p.id, name: 'Quoted', inventory: { available: 2 } });
      expect(res.body).not.toHaveProperty('holds');
      expect(res.body).not.toHaveProperty('ratingRev');
      // Stock moves invalidate the cached view, so every order's quote reads here: no mongoose
      // query, one command that leaves the per-order holds out.
      expect(queries).not.toHaveBeenCalled();
      expect(commands.mock.calls.map((c) => c[1])).toEqual([
        { projection: { holds: 0, ratingRev: 0 } },
      ]);
    } finally {
      queries.mockRestore();
      commands.mockRestore();
    }
  });

  it('publishes product.created with the price in minor units', async () => {
    const p = await createProduct({ name: 'Evented', price: 0.1, inventory: 3 });
    await h.settle();
    expect(h.publishedOf('product.created')).toContainEqual({
      productId: p.id,
      sellerId: seller.id,
      name: 'Evented',
      price: { amount: 10, currency: 'USD' },
      category: null,
      inventory: 3,
    });
  });

  it('answers 404 for unknown and malformed ids', async () => {
    for (const id of ['0123456789abcdef01234567', 'not-an-id', '%24ne']) {
      const res = await api().get(`/api/products/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }
  });
});

describe('attribute names', () => {
  // Names that are properties of every JS object (and that mongoose's clone skips): ordinary
  // attribute names for a product, stored and answered as sent.
  const objectNames = {
    constructor: 'x',
    prototype: 'p',
    hasOwnProperty: 'h',
    toString: 's',
    valueOf: 1,
    isMongooseBuffer: true,
    color: 'red',
  };

  async function storedAttributes(id: string) {
    const row = await h.service.connection
      .collection('products')
      .findOne({ _id: new Types.ObjectId(id) }, { projection: { attributes: 1 } });
    return row?.attributes as Record<string, unknown> | undefined;
  }

  it.each([[{ prototype: 'p' }], [{ constructor: 'x' }], [objectNames]])(
    'stores %j as sent on create and update, and answers it on every read',
    async (attributes) => {
      const created = await createProduct({ name: 'Named', attributes });
      expect(created.attributes).toEqual(attributes);
      expect(await storedAttributes(created.id)).toEqual(attributes);
      for (let i = 0; i < 2; i += 1) {
        // MISS, then the cached copy (HIT).
        const got = await api().get(`/api/products/${created.id}`);
        expect(got.headers['x-cache']).toBe(i === 0 ? 'MISS' : 'HIT');
        expect(got.body.attributes).toEqual(attributes);
      }
      const listed = await api().get(`/api/products?sellerId=${seller.id}&limit=100`);
      expect(listed.body.items.find((p: { id: string }) => p.id === created.id).attributes).toEqual(
        attributes,
      );

      const replaced = { ...attributes, size: 'L' };
      const updated = await asUser(seller)
        .put(`/api/products/${created.id}`)
        .send({ attributes: replaced });
      expect(updated.status).toBe(200);
      expect(updated.body.attributes).toEqual(replaced);
      expect(await storedAttributes(created.id)).toEqual(replaced);
      expect((await api().get(`/api/products/${created.id}`)).body.attributes).toEqual(replaced);
    },
  );

  it('refuses `__proto__` with 400 FORBIDDEN_KEY on create and update, changing nothing', async () => {
    const p = await createProduct({ name: 'Guarded names', attributes: { color: 'red' } });
    const before = (await api().get('/api/products?limit=100')).body.total;
    const created = await asUser(seller)
      .post('/api/products')
      .set('Content-Type', 'application/json')
      .send('{"name":"P","price":1,"inventory":1,"attributes":{"__proto__":"x"}}');
    expect(created.status).toBe(400);
    expect(created.body.error).toMatchObject({
      code: 'FORBIDDEN_KEY',
      requestId: expect.any(String),
    });
    const updated = await asUser(seller)
      .put(`/api/products/${p.id}`)
      .set('Content-Type', 'application/json')
      .send('{"attributes":{"__proto__":"x"}}');
    expect(updated.status).toBe(400);
    expect(updated.body.error.code).toBe('FORBIDDEN_KEY');
    expect((await api().get('/api/products?limit=100')).body.total).toBe(before);
    expect(await storedAttributes(p.id)).toEqual({ color: 'red' });
  });

  it('writes the product and its outbox row in one transaction: a failed row leaves no change', async () => {
    const p = await createProduct({ name: 'Atomic', attributes: { color: 'red' } });
    const products = h.service.connection.collection('products');
    const count = await products.countDocuments();
    const db = h.service.connection.db!;
    // A validator no row meets: the outbox insert fails inside the transaction.
    await db.command({ collMod: 'outbox', validator: { never: { $exists: true } } });
    try {
      const created = await asUser(seller)
        .post('/api/products')
        .send({ name: 'Lost', price: 1, inventory: 1, attributes: { constructor: 'x' } });
      expect(created.status).toBeGreaterThanOrEqual(500);
      const updated = await asUser(seller)
        .put(`/api/products/${p.id}`)
        .send({ attributes: { constructor: 'y' } });
      expect(updated.status).toBeGreaterThanOrEqual(500);
    } finally {
      await db.command({ collMod: 'outbox', validator: {} });
    }
    expect(await products.countDocuments()).toBe(count);
    expect(await storedAttributes(p.id)).toEqual({ color: 'red' });
  });
});

describe('who may write', () => {
  it('needs a token, and the seller or admin role to create', async () => {
    expect(
      (await api().post('/api/products').send({ name: 'x', price: 1, inventory: 1 })).status,
    ).toBe(401);
    const res = await asUser(customer)
      .post('/api/products')
      .send({ name: 'x', price: 1, inventory: 1 });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  it('lets only the product’s seller or an admin update and delete', async () => {
    const p = await createProduct({ name: 'Owned', price: 5 });
    const denied = await asUser(otherSeller).put(`/api/products/${p.id}`).send({ price: 1 });
    expect(denied.status).toBe(403);
    const deniedDelete = await asUser(otherSeller).delete(`/api/products/${p.id}`);
    expect(deniedDelete.status).toBe(403);
    expect((await api().get(`/api/products/${p.id}`)).body.price.amount).toBe(500);

    const own = await asUser(seller).put(`/api/products/${p.id}`).send({ price: 6.5 });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ price: { amount: 650, currency: 'USD' } });
    const byAdmin = await asUser(admin).put(`/api/products/${p.id}`).send({ name: 'Renamed' });
    expect(byAdmin.status).toBe(200);
    await h.settle();
    expect(h.publishedOf('product.updated')).toContainEqual({
      productId: p.id,
      changes: ['price'],
      price: { amount: 650, currency: 'USD' },
    });

    expect((await asUser(admin).delete(`/api/products/${p.id}`)).status).toBe(204);
    expect((await api().get(`/api/products/${p.id}`)).status).toBe(404);
    await h.settle();
    expect(h.publishedOf('product.deleted')).toContainEqual({ productId: p.id });
  });

  it("takes a deleted seller's products off sale (product.deleted each), not another seller's", async () => {
    const gone = `seller-gone-${new Types.ObjectId().toHexString()}`;
    const theirs = await Promise.all(
      [1, 2, 3].map((n) => createProduct({ name: `Left ${n}`, sellerId: gone }, admin)),
    );
    const kept = await createProduct({ name: 'Still sold' });
    await h.bus.publish(createEvent('auth-service', 'user.deleted', { userId: gone }));
    await h.settle();
    for (const p of theirs) expect((await api().get(`/api/products/${p.id}`)).status).toBe(404);
    const listed = await api().get(`/api/products?sellerId=${gone}`);
    expect(listed.body.total).toBe(0);
    expect(h.publishedOf('product.deleted')).toEqual(
      expect.arrayContaining(theirs.map((p) => ({ productId: p.id }))),
    );
    expect((await api().get(`/api/products/${kept.id}`)).status).toBe(200);
    // A redelivery, or a customer's deletion, withdraws nothing more.
    const before = h.publishedOf('product.deleted').length;
    await h.bus.publish(createEvent('auth-service', 'user.deleted', { userId: gone }));
    await h.bus.publish(createEvent('auth-service', 'user.deleted', { userId: customer.id }));
    await h.settle();
    expect(h.publishedOf('product.deleted')).toHaveLength(before);
  });

  it('takes every product of a deleted seller off sale, past one batch of 100', async () => {
    const gone = `seller-big-${new Types.ObjectId().toHexString()}`;
    for (let i = 0; i < 105; i += 15) {
      await Promise.all(
        Array.from({ length: Math.min(15, 105 - i) }, (_, j) =>
          createProduct({ name: `Bulk ${i + j}`, sellerId: gone }, admin),
        ),
      );
    }
    expect((await api().get(`/api/products?sellerId=${gone}`)).body.total).toBe(105);
    await h.bus.publish(createEvent('auth-service', 'user.deleted', { userId: gone }));
    await h.settle();
    expect((await api().get(`/api/products?sellerId=${gone}`)).body.total).toBe(0);
  });

  it('refuses a seller creating for another seller, allows an admin', async () => {
    const res = await asUser(seller)
      .post('/api/products')
      .send({ name: 'x', price: 1, inventory: 1, sellerId: 'seller-2' });
    expect(res.status).toBe(403);
    const p = await createProduct({ sellerId: 'seller-2' }, admin);
    expect(p.sellerId).toBe('seller-2');
  });
});

describe('bad input changes nothing', () => {
  it.each([
    [{ price: 0 }],
    [{ price: -1 }],
    [{ price: 1.999 }],
    [{ price: 'NaN' }],
    [{ price: 1e300 }],
    [{ inventory: -1 }],
    [{ inventory: 1.5 }],
    [{ name: '' }],
    [{ name: '\u200b\u200c\u00ad' }], // nothing that shows
    [{ name: 'Genuine \u202ekcatS' }], // a right-to-left override: shows as another name
    [{ name: 'Two\nlines' }],
    [{ name: 'Nul\u0000byte' }],
    [{ description: 'Isolated \u2067text\u2069' }],
    [{ description: 'bell \u0007' }],
    [{ attributes: { color: 'red\u202d' } }],
    [{ name: { $gt: '' } }],
    [{ currency: 'JPY' }],
    [{ attributes: { $where: 'x' } }],
    [{ attributes: { 'a.b': 1 } }],
    [{ unknown: 1 }],
  ])('create with %j → 400', async (patch) => {
    const before = (await api().get('/api/products?limit=100')).body.total;
    const res = await asUser(seller)
      .post('/api/products')
      .send({ name: 'Bad', price: 10, inventory: 1, ...patch });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.requestId).toEqual(expect.any(String));
    expect((await api().get('/api/products?limit=100')).body.total).toBe(before);
  });

  it.each([
    'category[$ne]=x',
    'minPrice[$gt]=0',
    'limit=0',
    'limit=101',
    'limit=abc',
    'page=0',
    'minPrice=-1',
    'minPrice=NaN',
    'maxPrice=1.234',
    'minPrice=10&maxPrice=5',
    'sort=name',
    'inStock=maybe',
    'q=' + 'x'.repeat(101),
    'category=a&category=b',
    'sellerId[$regex]=.*',
  ])('list with ?%s → 400', async (qs) => {
    const res = await api().get(`/api/products?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('pages through the first 10,000 results only: a deeper page is refused on `page`', async () => {
    // The last pages inside the window answer (empty here); the next ones start past it.
    for (const qs of [
      'page=500',
      'page=100&limit=100',
      'page=9999&limit=1',
      'page=10000&limit=1',
    ]) {
      expect({ qs, status: (await api().get(`/api/products?${qs}`)).status }).toEqual({
        qs,
        status: 200,
      });
    }
    for (const qs of ['page=501', 'page=101&limit=100', 'page=10001&limit=1', 'page=100000']) {
      const res = await api().get(`/api/products?${qs}&q=lamp`);
      expect({ qs, status: res.status }).toEqual({ qs, status: 400 });
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
      expect(res.body.error.details).toEqual([
        expect.objectContaining({
          field: 'page',
          message: expect.stringContaining('first 10000 results'),
        }),
      ]);
    }
  });

  it('lets a seller page through all of its own products, and an admin through all of them', async () => {
    const deep = 'page=501&limit=20';
    const own = await asUser(seller).get(`/api/products?${deep}&sellerId=${seller.id}`);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ page: 501, limit: 20, items: [] });
    expect((await asUser(admin).get(`/api/products?${deep}`)).status).toBe(200);
    // Another seller's products, a customer, or no token: the window holds.
    expect(
      (await asUser(otherSeller).get(`/api/products?${deep}&sellerId=${seller.id}`)).status,
    ).toBe(400);
    expect(
      (await asUser(customer).get(`/api/products?${deep}&sellerId=${customer.id}`)).status,
    ).toBe(400);
    expect((await api().get(`/api/products?${deep}&sellerId=${seller.id}`)).status).toBe(400);
    expect((await asUser(seller).get(`/api/products?${deep}`)).status).toBe(400);
  });

  it('refuses malformed ids and bad numbers on writes with 400, leaving the product as it was', async () => {
    const p = await createProduct({ name: 'Guarded', price: 3, inventory: 4 });
    const auth = bearer(seller);
    expect(
      (await api().put('/api/products/xyz').set('Authorization', auth).send({ price: 1 })).status,
    ).toBe(400);
    expect((await api().delete('/api/products/xyz').set('Authorization', auth)).status).toBe(400);
    expect(
      (await api().put('/api/products/xyz/inventory').set('Authorization', auth).send({ set: 1 }))
        .status,
    ).toBe(400);
    for (const body of [
      { set: -1 },
      { restock: 0 },
      { set: 1, restock: 1 },
      {},
      { set: 'NaN' },
      { set: { $inc: 1 } },
    ]) {
      const res = await api()
        .put(`/api/products/${p.id}/inventory`)
        .set('Authorization', auth)
        .send(body);
      expect(res.status).toBe(400);
    }
    for (const body of [{ price: -2 }, { price: 2.001 }, {}, { inventory: 5 }]) {
      expect(
        (await api().put(`/api/products/${p.id}`).set('Authorization', auth).send(body)).status,
      ).toBe(400);
    }
    for (const qs of ['quantity=0', 'quantity=-3', 'quantity=NaN', 'quantity[$gt]=1']) {
      expect((await api().get(`/api/products/${p.id}/availability?${qs}`)).status).toBe(400);
    }
    const after = (await api().get(`/api/products/${p.id}`)).body;
    expect(after).toMatchObject({
      price: { amount: 300, currency: 'USD' },
      inventory: { available: 4, reserved: 0, lowStockThreshold: 5 },
    });
  });

  it('answers malformed JSON in the common error shape', async () => {
    const res = await asUser(seller)
      .post('/api/products')
      .set('Content-Type', 'application/json')
      .send('{"name":');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_JSON');
  });
});

describe('categories', () => {
  let parentId: string;

  it('lets admins create nested categories and rename them; others get 403', async () => {
    const denied = await asUser(seller).post('/api/products/categories').send({ name: 'Toys' });
    expect(denied.status).toBe(403);
    const parent = await asUser(admin)
      .post('/api/products/categories')
      .send({ name: 'Home & Garden' });
    expect(parent.status).toBe(201);
    expect(parent.headers.location).toBe(`/api/products/categories/${parent.body.id}`);
    expectShape(categorySchema, parent.body);
    expect(parent.body).toMatchObject({
      name: 'Home & Garden',
      slug: 'home-garden',
      parentId: null,
    });
    parentId = parent.body.id;
    const child = await asUser(admin)
      .post('/api/products/categories')
      .send({ name: 'Lamps', parentId });
    expect(child.status).toBe(201);
    const tooDeep = await asUser(admin)
      .post('/api/products/categories')
      .send({ name: 'Desk lamps', parentId: child.body.id });
    expect(tooDeep.status).toBe(422);
    const dup = await asUser(admin).post('/api/products/categories').send({ name: 'Lamps' });
    expect(dup.status).toBe(409);

    const renamed = await asUser(admin)
      .put(`/api/products/categories/${child.body.id}`)
      .send({ name: 'Lighting' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Lighting', slug: 'lamps' });
    expect(
      (await asUser(admin).put('/api/products/categories/nope').send({ name: 'x' })).status,
    ).toBe(400);

    const one = await api().get(`/api/products/categories/${child.body.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: child.body.id, name: 'Lighting', parentId });
    for (const id of ['0123456789abcdef01234567', 'nope']) {
      expect((await api().get(`/api/products/categories/${id}`)).status).toBe(404);
    }

    // The tree is one array of top-level categories with their children (not paged).
    const tree = await api().get('/api/products/categories');
    expect(tree.status).toBe(200);
    expectShape(categoryTreeSchema, tree.body);
    const home = tree.body.find((c: { id: string }) => c.id === parentId);
    expect(home.children).toEqual([
      expect.objectContaining({ name: 'Lighting', slug: 'lamps', parentId }),
    ]);
  });

  it('refuses an unknown category on a product', async () => {
    const res = await asUser(seller)
      .post('/api/products')
      .send({ name: 'x', price: 1, inventory: 1, category: 'no-such' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('UNKNOWN_CATEGORY');
  });
});

describe('listing', () => {
  const sellerId = 'list-seller';
  const lister = { id: sellerId, role: 'seller' as const };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const auth = bearer(admin);
    await api().post('/api/products/categories').set('Authorization', auth).send({ name: 'Audio' });
    const audio = (await api().get('/api/products/categories')).body.find(
      (c: { slug: string }) => c.slug === 'audio',
    );
    await api()
      .post('/api/products/categories')
      .set('Authorization', auth)
      .send({ name: 'Headphones', parentId: audio.id });
    const specs = [
      {
        name: 'Studio Headphones',
        description: 'closed back monitor',
        price: 149.99,
        inventory: 3,
        category: 'headphones',
      },
      {
        name: 'Bluetooth Speaker',
        description: 'portable speaker, waterproof',
        price: 59.5,
        inventory: 0,
        category: 'audio',
      },
      {
        name: 'Turntable',
        description: 'vinyl player with speaker output',
        price: 249,
        inventory: 1,
        category: 'audio',
      },
      { name: 'Cable', description: 'a plain cable', price: 4.99, inventory: 100 },
    ];
    for (const spec of specs) ids[spec.name] = (await createProduct(spec, lister)).id;
  });

  const names = (res: request.Response) => res.body.items.map((p: { name: string }) => p.name);

  it('filters by seller and sorts by price both ways', async () => {
    const asc = await api().get(`/api/products?sellerId=${sellerId}&sort=price`);
    expect(asc.status).toBe(200);
    expect(names(asc)).toEqual(['Cable', 'Bluetooth Speaker', 'Studio Headphones', 'Turntable']);
    expect(asc.body.total).toBe(4);
    const desc = await api().get(`/api/products?sellerId=${sellerId}&sort=-price`);
    expect(names(desc)).toEqual(['Turntable', 'Studio Headphones', 'Bluetooth Speaker', 'Cable']);
  });

  it('filters by price range (inclusive, exact cents), stock and category including subcategories', async () => {
    const range = await api().get(
      `/api/products?sellerId=${sellerId}&minPrice=59.5&maxPrice=149.99&sort=price`,
    );
    expect(names(range)).toEqual(['Bluetooth Speaker', 'Studio Headphones']);
    const inStock = await api().get(`/api/products?sellerId=${sellerId}&inStock=true&sort=price`);
    expect(names(inStock)).toEqual(['Cable', 'Studio Headphones', 'Turntable']);
    const outOfStock = await api().get(`/api/products?sellerId=${sellerId}&inStock=false`);
    expect(names(outOfStock)).toEqual(['Bluetooth Speaker']);
    const audio = await api().get(`/api/products?category=audio&sort=price`);
    expect(names(audio)).toEqual(['Bluetooth Speaker', 'Studio Headphones', 'Turntable']);
    const headphones = await api().get(`/api/products?category=headphones`);
    expect(names(headphones)).toEqual(['Studio Headphones']);
  });

  it('searches name and description case-insensitively', async () => {
    const res = await api().get(`/api/products?sellerId=${sellerId}&q=SPEAKER&sort=price`);
    expect(names(res)).toEqual(['Bluetooth Speaker', 'Turntable']);
    const none = await api().get(
      `/api/products?sellerId=${sellerId}&q=${encodeURIComponent('.*')}`,
    );
    expect(none.body.total).toBe(0);
    const blank = await api().get(`/api/products?sellerId=${sellerId}&q=`);
    expect(blank.body.total).toBe(4);
  });

  it('pages in the one list envelope', async () => {
    const first = await api().get(`/api/products?sellerId=${sellerId}&sort=price&limit=3&page=1`);
    const second = await api().get(`/api/products?sellerId=${sellerId}&sort=price&limit=3&page=2`);
    expect(Object.keys(first.body).sort()).toEqual([
      'items',
      'limit',
      'page',
      'total',
      'totalPages',
    ]);
    expect(first.body).toMatchObject({ total: 4, page: 1, limit: 3, totalPages: 2 });
    expect(second.body).toMatchObject({ total: 4, page: 2, limit: 3, totalPages: 2 });
    expect(names(first)).toEqual(['Cable', 'Bluetooth Speaker', 'Studio Headphones']);
    expect(names(second)).toEqual(['Turntable']);
    for (const item of first.body.items) expectShape(productSchema, item);
    const defaults = await api().get(`/api/products?sellerId=${sellerId}`);
    expect(defaults.body).toMatchObject({ page: 1, limit: 20, totalPages: 1 });
  });

  it('sorts newest first by default and by rating', async () => {
    const res = await api().get(`/api/products?sellerId=${sellerId}`);
    expect(names(res)).toEqual(['Cable', 'Turntable', 'Bluetooth Speaker', 'Studio Headphones']);
    const rating = await api().get(`/api/products?sellerId=${sellerId}&sort=rating`);
    expect(rating.status).toBe(200);
    expect(rating.body.items).toHaveLength(4);
  });

  it('uses an index for every filter and sort, each sort with its _id tie-break', async () => {
    const indexes = await h.service.connection.collection('products').indexes();
    const keys = indexKeyPatterns(indexes);
    // An index that ends in the sort's own fields and directions lets MongoDB stop after the
    // page; one without the _id tie-break makes it sort every match.
    expect(keys).toEqual(
      expect.arrayContaining([
        'status:1,createdAt:-1,_id:-1',
        'status:1,priceCents:1,_id:1',
        'status:1,ratingAverage:-1,ratingCount:-1,_id:1',
        'categoryPath:1,status:1,createdAt:-1,_id:-1',
        'sellerId:1,status:1,createdAt:-1,_id:-1',
        'status:1,available:1',
      ]),
    );
    expect(indexes.some((i) => i.name === 'product_text')).toBe(true);
  });
});

describe('inventory and availability', () => {
  it('sets and restocks stock, answers availability, and alerts once when stock falls low', async () => {
    const p = await createProduct({
      name: 'Stocked',
      price: 2,
      inventory: 10,
      lowStockThreshold: 3,
    });
    const auth = bearer(seller);
    const avail = await api().get(`/api/products/${p.id}/availability?quantity=11`);
    expect(avail.body).toEqual({
      productId: p.id,
      requested: 11,
      available: 10,
      sufficient: false,
    });

    const restock = await api()
      .put(`/api/products/${p.id}/inventory`)
      .set('Authorization', auth)
      .send({ restock: 5 });
    expect(restock.status).toBe(200);
    expect(restock.body.inventory.available).toBe(15);
    expect(
      (await api().get(`/api/products/${p.id}/availability?quantity=11`)).body.sufficient,
    ).toBe(true);

    const set = await api()
      .put(`/api/products/${p.id}/inventory`)
      .set('Authorization', auth)
      .send({ set: 2 });
    expect(set.body.inventory.available).toBe(2);
    await h.settle();
    expect(h.publishedOf('product.inventory.low')).toContainEqual({
      productId: p.id,
      available: 2,
      threshold: 3,
    });
    await api().put(`/api/products/${p.id}/inventory`).set('Authorization', auth).send({ set: 1 });
    await h.settle();
    expect(h.publishedOf('product.inventory.low').filter((e) => e.productId === p.id)).toHaveLength(
      1,
    );

    // The free stock cannot be restocked past the most a seller may set, even by restocks
    // racing each other: 422 STOCK_LIMIT, nothing changed.
    await api()
      .put(`/api/products/${p.id}/inventory`)
      .set('Authorization', auth)
      .send({ set: 400_000_000 });
    const racing = await Promise.all(
      [0, 1, 2].map(() =>
        api()
          .put(`/api/products/${p.id}/inventory`)
          .set('Authorization', auth)
          .send({ restock: 300_000_000 }),
      ),
    );
    expect(racing.map((r) => r.status).sort()).toEqual([200, 200, 422]);
    const refused = racing.find((r) => r.status === 422)!;
    expect(refused.body.error).toMatchObject({
      code: 'STOCK_LIMIT',
      details: { max: 1_000_000_000 },
    });
    expect((await api().get(`/api/products/${p.id}`)).body.inventory.available).toBe(1_000_000_000);
    const past = await api()
      .put(`/api/products/${p.id}/inventory`)
      .set('Authorization', auth)
      .send({ restock: 1, lowStockThreshold: 7 });
    expect(past.status).toBe(422);
    expect((await api().get(`/api/products/${p.id}`)).body.inventory.lowStockThreshold).toBe(3);
    await api().put(`/api/products/${p.id}/inventory`).set('Authorization', auth).send({ set: 1 });

    const denied = await asUser(otherSeller)
      .put(`/api/products/${p.id}/inventory`)
      .send({ set: 100 });
    expect(denied.status).toBe(403);
    expect((await api().get(`/api/products/${p.id}`)).body.inventory.available).toBe(1);
    expect((await api().get(`/api/products/0123456789abcdef01234567/availability`)).status).toBe(
      404,
    );
  });
});

describe('cache', () => {
  it('serves repeated reads from the cache and never a stale price or stock after a write', async () => {
    const p = await createProduct({ name: 'Cached', price: 1, inventory: 5 });
    const first = await api().get(`/api/products/${p.id}`);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await api().get(`/api/products/${p.id}`);
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body).toEqual(first.body);

    const listQ = `/api/products?sellerId=${seller.id}&q=Cached`;
    expect((await api().get(listQ)).headers['x-cache']).toBe('MISS');
    expect((await api().get(listQ)).headers['x-cache']).toBe('HIT');

    await asUser(seller).put(`/api/products/${p.id}`).send({ price: 2.25 });
    const afterPrice = await api().get(`/api/products/${p.id}`);
    expect(afterPrice.headers['x-cache']).toBe('MISS');
    expect(afterPrice.body.price.amount).toBe(225);
    const listAfter = await api().get(listQ);
    expect(listAfter.headers['x-cache']).toBe('MISS');
    expect(listAfter.body.items[0].price.amount).toBe(225);

    await asUser(seller).put(`/api/products/${p.id}/inventory`).send({ restock: 7 });
    expect((await api().get(`/api/products/${p.id}`)).body.inventory.available).toBe(12);
    expect((await api().get(listQ)).body.items[0].inventory.available).toBe(12);

    const metrics = await api().get('/metrics');
    expect(metrics.text).toMatch(/product_cache_hits_total\{[^}]*kind="detail"[^}]*\} [1-9]/);
    expect(metrics.text).toMatch(/product_cache_misses_total\{[^}]*kind="list"[^}]*\} [1-9]/);
  });
});

describe('health', () => {
  it('reports MongoDB, bus and readiness', async () => {
    await expectReady(api, ['mongodb', 'eventBus']);
  });
});
