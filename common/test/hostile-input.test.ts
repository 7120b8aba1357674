import Joi from 'joi';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import request from 'supertest';
import { NotFoundError } from '../src/errors';
import {
  bindRoutes,
  createServiceApp,
  defineApi,
  reply,
  shippingAddressSchema,
  JSON_MAX_DEPTH,
  MAX_PROBLEMS,
} from '../src/http';
import { createLogger } from '../src/logging';
import { createPgPool } from '../src/postgres';
import { createTestPostgres, describeIfServer, testJwtVerify as jwt } from '@ecom/test-support';

/**
 * Hostile input at the HTTP edge (issue 19): every client mistake is a 4xx in the common error
 * shape, and none reaches a handler.
 */

const api = defineApi({
  service: 'hostile',
  tag: { name: 'Hostile', description: 'hostile input' },
  prefixes: ['/api/things', '/api/orders', '/api/pg'],
  operations: {
    getThing: {
      method: 'get',
      path: '/api/things/:id',
      summary: 'One thing; any id, 404 when unknown',
      access: 'public',
      params: Joi.object({ id: Joi.string().max(20_000).required() }),
      response: { status: 200, description: 'Thing', schema: Joi.object() },
    },
    searchThings: {
      method: 'get',
      path: '/api/things',
      summary: 'Search (query strings keep converting)',
      access: 'public',
      query: Joi.object({
        q: Joi.string().max(100),
        limit: Joi.number().integer(),
        all: Joi.boolean(),
      }),
      response: { status: 200, description: 'Query', schema: Joi.object() },
    },
    createOrder: {
      method: 'post',
      path: '/api/orders',
      summary: 'An order-like body',
      access: 'public',
      body: Joi.object({
        items: Joi.array()
          .items(
            Joi.object({
              productId: Joi.string().max(64).required(),
              quantity: Joi.number().integer().min(1).max(1000).required(),
            }),
          )
          .min(1)
          .required(),
        shippingAddress: shippingAddressSchema,
        gift: Joi.boolean(),
        deliverBy: Joi.date(),
        attributes: Joi.object().pattern(
          Joi.string(),
          Joi.alternatives().try(Joi.string(), Joi.number(), Joi.boolean()),
        ),
        card: Joi.object({ token: Joi.string().trim().max(200) }),
        sku: Joi.string().pattern(/^[A-Z0-9-]+$/),
      }),
      response: { status: 201, description: 'Created', schema: Joi.object() },
    },
    storeNul: {
      method: 'get',
      path: '/api/pg/nul',
      summary: 'Sends a NUL to PostgreSQL itself (the edge cannot see it)',
      access: 'public',
      response: { status: 200, description: 'Never', schema: Joi.object() },
    },
  },
});

let handled = 0;
let pool: Pool | undefined;

function buildApp() {
  const service = createServiceApp({ service: 'hostile', logger: createLogger('t', 'silent') });
  service.app.use(
    bindRoutes(
      api,
      {
        getThing: async (req) => {
          handled += 1;
          throw new NotFoundError(`Thing ${String(req.params.id)} not found`);
        },
        searchThings: async (req) => {
          handled += 1;
          return { query: req.query };
        },
        createOrder: async (req) => {
          handled += 1;
          return reply.created({ body: req.body as unknown }, '/api/orders/o1');
        },
        storeNul: async () => {
          handled += 1;
          await pool!.query('SELECT $1::text AS t', ['a\u0000b']);
          return {};
        },
      },
      { jwt },
    ),
  );
  return service.finish();
}

const app = buildApp();
const item = { productId: 'p1', quantity: 2 };
const address = { name: 'Ann', line1: '1 Main St', city: 'Berlin', country: 'de' };

/** Sends `text` as a JSON body exactly as written (supertest would re-serialise an object). */
const postRaw = (text: string, contentType = 'application/json') =>
  request(app).post('/api/orders').set('content-type', contentType).send(text);

/** The answer is a 4xx in the common shape, and no handler ran for it. */
async function expectRefused(
  pending: PromiseLike<request.Response>,
  status: number,
  code: string,
): Promise<request.Response> {
  const before = handled;
  const res = await pending;
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.body.error).toEqual(
    expect.objectContaining({ message: expect.any(String), requestId: expect.any(String) }),
  );
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(handled).toBe(before);
  return res;
}

describe('item 6: a malformed percent-encoding in a path parameter', () => {
  it.each(['%ff', '%e2%82', '%', 'abc%zz', '%c0%af'])(
    '/api/things/%s is a 400 MALFORMED_URL, not a 500',
    async (id) => {
      await expectRefused(request(app).get(`/api/things/${id}`), 400, 'MALFORMED_URL');
    },
  );

  it('well-formed encodings still reach the handler decoded', async () => {
    const res = await request(app).get('/api/things/caf%C3%A9%20au%20lait');
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('Thing café au lait not found');
  });
});

describe('item 7: text PostgreSQL cannot store is refused before any handler', () => {
  it('a NUL in a body string', async () => {
    const res = await expectRefused(
      request(app)
        .post('/api/orders')
        .send({ items: [item], shippingAddress: { ...address, name: 'a\u0000b' } }),
      400,
      'VALIDATION_ERROR',
    );
    expect(res.body.error.details).toEqual([
      { location: 'body', field: 'shippingAddress.name', message: expect.any(String) },
    ]);
  });

  it('a NUL a trim would not remove (card token "tok_visa\\u0000")', async () => {
    await expectRefused(
      request(app)
        .post('/api/orders')
        .send({ items: [item], card: { token: 'tok_visa\u0000' } }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('a NUL in a body key', async () => {
    await expectRefused(
      request(app)
        .post('/api/orders')
        .send({ items: [item], attributes: { 'a\u0000': 'x' } }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it.each([
    ['a lone high surrogate', '"\\ud800"'],
    ['a lone low surrogate', '"x\\udc00y"'],
    ['surrogates in the wrong order', '"\\udc00\\ud800"'],
  ])('%s in a body string', async (_label, literal) => {
    await expectRefused(
      postRaw(`{"items":[{"productId":${literal},"quantity":1}]}`),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('a NUL in a path parameter (GET /api/payments/order/%00)', async () => {
    const res = await expectRefused(request(app).get('/api/things/%00'), 400, 'VALIDATION_ERROR');
    expect(res.body.error.details[0].location).toBe('path');
  });

  it('a NUL in a query value or key', async () => {
    await expectRefused(request(app).get('/api/things?q=a%00b'), 400, 'VALIDATION_ERROR');
    await expectRefused(request(app).get('/api/things?q%00=1'), 400, 'VALIDATION_ERROR');
  });

  it('text that can be stored passes: an emoji (a surrogate pair), accents, CJK', async () => {
    const name = 'Zoë 😀 東京';
    const res = await request(app)
      .post('/api/orders')
      .send({ items: [{ productId: '😀', quantity: 1 }], shippingAddress: { ...address, name } });
    expect(res.status).toBe(201);
    expect(res.body.body.shippingAddress.name).toBe(name);
  });
});

describeIfServer('postgres', 'item 7, second line: PostgreSQL refusing text is a 400', () => {
  let db: Awaited<ReturnType<typeof createTestPostgres>>;
  beforeAll(async () => {
    db = await createTestPostgres('common_hostile_input');
    pool = createPgPool(db.url, 2);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  it('a 22021 from the store is answered 400 VALIDATION_ERROR, not 500', async () => {
    const res = await request(app).get('/api/pg/nul');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});

describe('item 9: JSON bodies are strict', () => {
  it('numeric strings are not numbers: quantity "1e3" is refused, not a 1,000-unit order', async () => {
    for (const quantity of ['1e3', '5', ' 7 ', '0x10']) {
      const res = await expectRefused(
        request(app)
          .post('/api/orders')
          .send({ items: [{ productId: 'p1', quantity }] }),
        400,
        'VALIDATION_ERROR',
      );
      expect(res.body.error.details[0].field).toBe('items.0.quantity');
    }
  });

  it('boolean strings are not booleans', async () => {
    await expectRefused(
      request(app)
        .post('/api/orders')
        .send({ items: [item], gift: 'true' }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('JSON numbers and booleans, ISO dates, trimming and case conversion still work', async () => {
    const res = await request(app)
      .post('/api/orders')
      .send({
        items: [{ productId: 'p1', quantity: 1000 }],
        gift: true,
        deliverBy: '2030-01-02T03:04:05Z',
        shippingAddress: { ...address, city: '  Berlin ' },
        attributes: { size: '42', weight: 1.5, fragile: false },
      });
    expect(res.status).toBe(201);
    expect(res.body.body).toEqual({
      items: [{ productId: 'p1', quantity: 1000 }],
      gift: true,
      deliverBy: '2030-01-02T03:04:05.000Z',
      shippingAddress: { ...address, city: 'Berlin', country: 'DE' },
      attributes: { size: '42', weight: 1.5, fragile: false },
    });
  });

  it('query strings and path parameters keep converting', async () => {
    const res = await request(app).get('/api/things?limit=5&all=true');
    expect(res.status).toBe(200);
    expect(res.body.query).toEqual({ limit: 5, all: true });
  });

  it.each([
    [
      '__proto__ at the top',
      '{"items":[{"productId":"p","quantity":1}],"__proto__":{"admin":true}}',
    ],
    ['__proto__ nested', '{"items":[{"productId":"p","quantity":1,"__proto__":{"x":1}}]}'],
    ['__proto__ written with escapes', '{"\\u005f_proto__":{"admin":true},"items":[]}'],
    ['constructor.prototype', '{"items":[],"constructor":{"prototype":{"admin":true}}}'],
  ])('a prototype-polluting key (%s) is refused, not stripped', async (_label, text) => {
    await expectRefused(postRaw(text), 400, 'FORBIDDEN_KEY');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it.each([
    ['at the top', '{"items":[{"productId":"p","quantity":1}],"gift":true,"gift":false}'],
    ['nested', '{"items":[{"productId":"p","quantity":1,"quantity":1000}]}'],
    ['spelled differently', '{"items":[{"productId":"p","quantity":1,"quantit\\u0079":9}]}'],
  ])('a duplicate key (%s) is refused, not resolved to the last value', async (_label, text) => {
    const res = await expectRefused(postRaw(text), 400, 'DUPLICATE_KEY');
    expect(res.body.error.details).toEqual({ key: expect.any(String) });
  });

  it('the same key in two different objects is not a duplicate', async () => {
    const res = await postRaw(
      '{"items":[{"productId":"a","quantity":1},{"productId":"b","quantity":2}]}',
    );
    expect(res.status).toBe(201);
  });

  it('"\\"" and "\\\\" inside strings do not confuse the key scan', async () => {
    const res = await postRaw(
      '{"items":[{"productId":"a\\",\\"quantity\\":\\\\","quantity":1}],"attributes":{"k\\"":"v","k":"w"}}',
    );
    expect(res.status).toBe(201);
    expect(res.body.body.items[0].productId).toBe('a","quantity":\\');
  });

  it.each(['utf-7', 'UTF-16LE', 'iso-8859-1', 'us-ascii'])(
    'charset=%s is refused with 415 UNSUPPORTED_ENCODING, never decoded',
    async (charset) => {
      await expectRefused(
        postRaw(
          '{"items":[{"productId":"+ADw-script+AD4-","quantity":1}]}',
          `application/json; charset=${charset}`,
        ),
        415,
        'UNSUPPORTED_ENCODING',
      );
    },
  );

  it('charset=utf-8 (any case) and no charset are accepted', async () => {
    const text = '{"items":[{"productId":"p","quantity":1}]}';
    expect((await postRaw(text, 'application/json; charset=UTF-8')).status).toBe(201);
    expect((await postRaw(text, 'application/json')).status).toBe(201);
  });

  it('bytes that are not UTF-8 are refused, not replaced by U+FFFD', async () => {
    const bytes = Buffer.concat([
      Buffer.from('{"items":[{"productId":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","quantity":1}]}'),
    ]);
    // fetch sends the bytes as they are (supertest would serialise a Buffer as JSON).
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const before = handled;
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bytes,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('MALFORMED_JSON');
      expect(handled).toBe(before);
    } finally {
      server.close();
    }
  });

  it(`nesting deeper than ${JSON_MAX_DEPTH} levels is refused (and cannot exhaust the stack)`, async () => {
    const deep = (n: number) => `{"items":[],"attributes":${'['.repeat(n)}${']'.repeat(n)}}`;
    await expectRefused(postRaw(deep(30_000)), 400, 'JSON_TOO_DEEP');
    await expectRefused(postRaw(deep(JSON_MAX_DEPTH)), 400, 'JSON_TOO_DEEP');
    // Within the bound the schema decides (attributes is an object, not an array).
    await expectRefused(postRaw(deep(2)), 400, 'VALIDATION_ERROR');
  });

  it('a top-level scalar or malformed JSON is still MALFORMED_JSON', async () => {
    await expectRefused(postRaw('"text"'), 400, 'MALFORMED_JSON');
    await expectRefused(postRaw('{"items":[}'), 400, 'MALFORMED_JSON');
  });
});

describe('item 10: errors name the field without echoing large input', () => {
  it('a 90 KB country value: a small 400 naming the field', async () => {
    const huge = 'x'.repeat(90_000);
    const res = await request(app)
      .post('/api/orders')
      .send({ items: [item], shippingAddress: { ...address, country: huge } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('shippingAddress.country');
    expect(JSON.stringify(res.body).length).toBeLessThan(1000);
  });

  it("a value joi's own message repeats (a pattern's), blanks and all, is bounded", async () => {
    const res = await request(app)
      .post('/api/orders')
      .send({ items: [item], sku: 'a '.repeat(40_000) });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({ field: 'sku' });
    expect(res.body.error.details[0].message).toMatch(/^"sku" with value "a a a .*…$/);
    expect(JSON.stringify(res.body).length).toBeLessThan(1000);
  });

  it('an 8 KB id is not echoed whole in a 404 message', async () => {
    const id = 'a'.repeat(8192);
    const res = await request(app).get(`/api/things/${id}`);
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/^Thing a{80}… not found$/);
  });

  it('an 8 KB unknown path is not echoed whole in "No route for"', async () => {
    const res = await request(app).get(`/nowhere/${'b'.repeat(8192)}`);
    expect(res.status).toBe(404);
    expect(res.body.error.message.length).toBeLessThan(120);
    expect(res.body.error.message).toMatch(/^No route for GET \/nowhere\/b+…$/);
  });

  it('an 8 KB unknown key is named by its first characters', async () => {
    const key = 'k'.repeat(8192);
    const res = await request(app)
      .post('/api/orders')
      .send({ items: [item], [key]: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe(`${'k'.repeat(80)}…`);
    expect(JSON.stringify(res.body).length).toBeLessThan(1000);
  });

  it(`thousands of problems: at most ${MAX_PROBLEMS} are listed`, async () => {
    const body: Record<string, unknown> = { items: [item] };
    for (let i = 0; i < 3000; i += 1) body[`unknown${i}`] = i;
    const res = await request(app).post('/api/orders').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toHaveLength(MAX_PROBLEMS);
  });
});
