import fs from 'node:fs';
import Ajv, { type ValidateFunction } from 'ajv';
import { InMemoryEventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import { authService, loadAuthConfig } from '@ecom/auth-service';
import { commentsService, loadCommentsConfig } from '@ecom/comments-service';
import { SERVICE_APIS, apiDocument } from '@ecom/gateway';
import { orderConfigSchema, orderService } from '@ecom/order-service';
import { paymentConfigSchema, paymentService } from '@ecom/payment-service';
import { loadProductConfig, productService } from '@ecom/product-service';
import {
  createTestMongo,
  createTestPostgres,
  jsonSchemaOf,
  startTcpRelay,
  testJwtEnv,
  testKeys,
  tokenFor,
  type TcpRelay,
} from '@ecom/test-support';
import { DEMO_ACCOUNTS } from '../../platform/src/demo';
import { startPlatform, type Platform } from '../../platform/src/start';
import { embeddedEnv, platformPorts, tempDataDir } from '../../platform/test/support';

// The platform's API conventions (docs/adr/0008), checked on every route the assembled document
// has, against the whole platform started as `npm start` starts it: every list answers the one
// envelope with the same page bounds and items of its declared schema; every DELETE answers
// 204 with no body; every 201 carries Location. A route added to a service is covered here
// with no edit (unless it needs an id this test cannot make: then it fails, saying so).

jest.setTimeout(240_000);

type Schema = Record<string, unknown>;
type Operation = {
  security: Record<string, unknown>[];
  'x-roles'?: string[];
  responses: Record<
    string,
    { content?: { 'application/json': { schema: Schema } }; headers?: Record<string, unknown> }
  >;
};
const doc = apiDocument(SERVICE_APIS) as { paths: Record<string, Record<string, Operation>> };
const ports = platformPorts(17000);
const base = `http://127.0.0.1:${ports.services.gateway}`;

/** The fields these checks read from answers (whichever the route gives). */
interface Answer {
  items: { id?: string }[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
  id: string;
  price: unknown;
  accessToken: string;
  user: { id: string };
  error?: { code: string };
}

async function call(method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    body: (text ? JSON.parse(text) : {}) as Answer,
  };
}

describe('API conventions on every route of the assembled document', () => {
  let platform: Platform;
  let dataDir: string;
  const tokens: Record<'admin' | 'seller' | 'customer', string> = {
    admin: '',
    seller: '',
    customer: '',
  };
  /** Ids that path parameters are filled with, by parameter name. */
  const ids: Record<string, string> = {};

  const login = async (email: string, password: string) =>
    (await call('POST', '/api/auth/login', undefined, { email, password })).body
      .accessToken as string;

  beforeAll(async () => {
    dataDir = tempDataDir('conventions');
    platform = await startPlatform({ env: embeddedEnv(dataDir), ports, print: () => undefined });
    tokens.admin = await login(DEMO_ACCOUNTS.admin.email, DEMO_ACCOUNTS.admin.password);
    tokens.seller = await login(DEMO_ACCOUNTS.seller.email, DEMO_ACCOUNTS.seller.password);
    tokens.customer = await login(DEMO_ACCOUNTS.customer.email, DEMO_ACCOUNTS.customer.password);
    const products = await call('GET', '/api/products?limit=1');
    ids.productId = products.body.items[0]!.id!;
    // Something of each kind on every list, so item schemas are checked on real items.
    const order = await call('POST', '/api/orders', tokens.customer, {
      items: [{ productId: ids.productId, quantity: 1 }],
      payment: { method: 'card', token: 'tok_visa' },
      shippingAddress: { name: 'C', line1: '1 Main St', city: 'Springfield', country: 'US' },
    });
    expect(order.status).toBe(201);
    for (let i = 0; i < 50; i += 1) {
      if ((await call('GET', '/api/payments', tokens.customer)).body.total > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const tokenFor = (op: Operation) =>
    op.security.every((s) => Object.keys(s).length === 0)
      ? undefined
      : op['x-roles']?.includes('admin')
        ? tokens.admin
        : tokens.customer;

  const fill = (template: string) =>
    template.replace(/\{(\w+)\}/g, (_m, name: string) => {
      if (!ids[name]) throw new Error(`${template}: no id for {${name}}; make one in beforeAll`);
      return ids[name]!;
    });

  /** Each query on `url` (the route `path`, filled) answers 400 VALIDATION_ERROR. */
  const expectRefused = async (
    path: string,
    url: string,
    token: string | undefined,
    bad: string[],
  ) => {
    for (const query of bad) {
      const refused = await call('GET', `${url}?${query}`, token);
      expect({ path, query, status: refused.status, code: refused.body?.error?.code }).toEqual({
        path,
        query,
        status: 400,
        code: 'VALIDATION_ERROR',
      });
    }
  };

  const operations = (method: string) =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      ops[method] ? [{ path, op: ops[method]! }] : [],
    );

  it('every list answers { items, page, limit, total, totalPages }, with the same bounds and valid items', async () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const lists = operations('get').filter(({ op }) =>
      (
        op.responses['200']?.content?.['application/json']?.schema.required as string[] | undefined
      )?.includes('totalPages'),
    );
    expect(lists.map((l) => l.path).sort()).toEqual(
      expect.arrayContaining(['/api/orders', '/api/payments', '/api/products', '/api/users']),
    );
    for (const { path, op } of lists) {
      const url = fill(path);
      const token = tokenFor(op);
      const res = await call('GET', `${url}?page=1&limit=2`, token);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect({ path, keys: Object.keys(res.body).sort() }).toEqual({
        path,
        keys: ['items', 'limit', 'page', 'total', 'totalPages'],
      });
      expect(res.body).toMatchObject({ page: 1, limit: 2 });
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      expect(res.body.totalPages).toBe(Math.ceil(res.body.total / 2));
      const schema = op.responses['200']!.content!['application/json'].schema as {
        properties: { items: { items: Schema } };
      };
      const validate: ValidateFunction = ajv.compile(
        jsonSchemaOf(schema.properties.items.items) as object,
      );
      for (const item of res.body.items) {
        expect({ path, item: item.id, errors: validate(item) ? null : validate.errors }).toEqual({
          path,
          item: item.id,
          errors: null,
        });
      }
      await expectRefused(path, url, token, [
        'limit=101',
        'limit=0',
        'page=0',
        'page=100001',
        'limit=abc',
      ]);
      // A list anyone may call is paged through its first 10,000 results; one behind a token
      // (a user's own, or an admin's) may be paged deeper.
      // (security: none for a public route, an empty alternative for an optional token).
      const anyone =
        op.security.length === 0 || op.security.some((s) => Object.keys(s).length === 0);
      const deep = await call('GET', `${url}?page=501&limit=20`, token);
      expect({ path, anyone, status: deep.status }).toEqual({
        path,
        anyone,
        status: anyone ? 400 : 200,
      });
      expect((await call('GET', `${url}?page=500&limit=20`, token)).status).toBe(200);
      const defaults = await call('GET', url, token);
      expect({ path, page: defaults.body.page, limit: defaults.body.limit }).toEqual({
        path,
        page: 1,
        limit: 20,
      });
    }
  });

  it('every append-only log answers { items, limit, next, hasMore } and is read on by cursor', async () => {
    const logs = operations('get').filter(({ op }) =>
      (
        op.responses['200']?.content?.['application/json']?.schema.required as string[] | undefined
      )?.includes('hasMore'),
    );
    expect(logs.map((l) => l.path).sort()).toEqual([
      '/api/blockchain/order/log',
      '/api/blockchain/order/log/promises',
      '/api/blockchain/payment/log',
      '/api/blockchain/payment/log/promises',
    ]);
    // A batch is named by its seq (its status moves on), a promise by its record and sequence.
    const identity = (i: object) => {
      const item = i as { seq?: number; recordId?: string; sequence?: number };
      return item.seq !== undefined ? `batch ${item.seq}` : `${item.recordId} ${item.sequence}`;
    };
    for (const { path, op } of logs) {
      const token = tokenFor(op);
      // Walk the whole log a page of one at a time: the cursor only moves on, nothing twice.
      const seen: string[] = [];
      for (let after = 0, pages = 0; ; pages += 1) {
        expect(pages).toBeLessThan(1000);
        const res = await call('GET', `${path}?after=${after}&limit=1`, token);
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        const body = res.body as unknown as {
          items: object[];
          limit: number;
          next: number;
          hasMore: boolean;
        };
        expect({ path, keys: Object.keys(body).sort() }).toEqual({
          path,
          keys: ['hasMore', 'items', 'limit', 'next'],
        });
        expect(body.limit).toBe(1);
        expect(body.items.length).toBeLessThanOrEqual(1);
        seen.push(...body.items.map(identity));
        if (!body.hasMore) break;
        expect(body.next).toBeGreaterThan(after);
        after = body.next;
      }
      // Again, 100 a page: the saga and the anchorer may add to the log meanwhile, so what was
      // read first comes first.
      const again: string[] = [];
      for (let after = 0; ;) {
        const body = (await call('GET', `${path}?after=${after}&limit=100`, token))
          .body as unknown as { items: object[]; next: number; hasMore: boolean };
        again.push(...body.items.map(identity));
        if (!body.hasMore) break;
        after = body.next;
      }
      expect(again.slice(0, seen.length)).toEqual(seen);
      await expectRefused(path, path, token, [
        'limit=101',
        'limit=0',
        'after=-1',
        'after=abc',
        'page=1',
      ]);
    }
  });

  it('every DELETE is declared 204 and answers 204 with no body', async () => {
    const deletes = operations('delete');
    expect(deletes.length).toBeGreaterThanOrEqual(4);
    for (const { path, op } of deletes) {
      expect({
        path,
        statuses: Object.keys(op.responses).filter((s) => s.startsWith('2')),
      }).toEqual({ path, statuses: ['204'] });
    }
    // One real deletion per service that has one: each answers 204 and an empty body.
    const register = await call('POST', '/api/auth/register', undefined, {
      email: `gone-${Date.now()}@example.com`,
      password: 'a passphrase to delete',
      name: 'Gone',
    });
    const product = await call('POST', '/api/products', tokens.seller, {
      name: 'To delete',
      price: 1,
      inventory: 1,
    });
    const review = await call('POST', '/api/comments', tokens.customer, {
      productId: product.body.id,
      rating: 4,
      text: 'Fine.',
    });
    const image = await fetch(`${base}/api/products/${product.body.id}/images`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.seller}`, 'content-type': 'image/png' },
      body: fs.readFileSync(`${__dirname}/../../docs/postman/sample-image.png`),
    });
    expect(image.status).toBe(201);
    const imageId = ((await image.json()) as { id: string }).id;
    const voter = await login(DEMO_ACCOUNTS.seller.email, DEMO_ACCOUNTS.seller.password);
    expect((await call('POST', `/api/comments/${review.body.id}/helpful`, voter)).status).toBe(201);
    const inCart = await call('POST', '/api/carts/mine/items', tokens.customer, {
      productId: product.body.id,
      quantity: 1,
    });
    expect(inCart.status).toBe(200);
    const deletions: [string, string][] = [
      [`/api/carts/mine/items/${product.body.id}`, tokens.customer],
      [`/api/comments/${review.body.id}/helpful`, voter],
      [`/api/comments/${review.body.id}`, tokens.customer],
      [`/api/products/${product.body.id}/images/${imageId}`, tokens.seller],
      [`/api/products/${product.body.id}`, tokens.seller],
      [`/api/users/${register.body.user.id}`, tokens.admin],
    ];
    for (const [path, token] of deletions) {
      const res = await call('DELETE', path, token);
      expect({ path, status: res.status, body: res.text }).toEqual({ path, status: 204, body: '' });
    }
    // Every DELETE of the document was exercised.
    const exercised = deletions.map(([p]) =>
      p
        .replace(/^(\/api\/carts\/mine\/items)\/[0-9a-f]{24}$/, '$1/{productId}')
        .replace(/\/[0-9a-f]{24}(?=\/|$)/g, '/{id}')
        .replace(/\/[0-9a-f]{32}$/, '/{imageId}'),
    );
    expect(exercised.sort()).toEqual(deletes.map((d) => d.path).sort());
  });

  it('every 201 is declared with Location, and the creations answer one that reads back', async () => {
    const creates = operations('post').filter(({ op }) => op.responses['201']);
    for (const { path, op } of creates) {
      expect({ path, location: Boolean(op.responses['201']!.headers?.Location) }).toEqual({
        path,
        location: true,
      });
    }
    const product = await call('POST', '/api/products', tokens.seller, {
      name: 'Located',
      price: 2.5,
      inventory: 3,
    });
    expect(product.status).toBe(201);
    const location = product.headers.get('location')!;
    expect(location).toBe(`/api/products/${product.body.id}`);
    const read = await call('GET', location);
    expect(read.body).toEqual(product.body);
    expect(read.body.price).toEqual({ amount: 250, currency: 'USD' });
  });
});

describe('every service answers 503 DEPENDENCY_UNAVAILABLE while its store is unreachable', () => {
  const bus = new InMemoryEventBus();
  const env = { ...testJwtEnv, LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' };
  const admin = tokenFor({ id: 'outage-admin', role: 'admin' });
  afterAll(() => bus.close());

  // Each service started on its own store behind a relay that the test cuts; the route
  // called is the service's list route from the assembled document.
  const services: {
    name: string;
    store: 'mongo' | 'postgres';
    start: (url: string) => Promise<{ url: string; stop(): Promise<void> }>;
  }[] = [
    {
      name: 'auth',
      store: 'mongo',
      start: (url) =>
        authService.start({
          bus,
          config: loadAuthConfig({
            ...env,
            MONGO_URL: url,
            JWT_PRIVATE_KEY: testKeys.privateKey,
            BCRYPT_ROUNDS: '4',
          }),
        }),
    },
    {
      name: 'product',
      store: 'mongo',
      start: (url) =>
        productService.start({
          bus,
          config: loadProductConfig({ ...env, MONGO_URL: url, CACHE_DRIVER: 'off' }),
        }),
    },
    {
      name: 'comments',
      store: 'mongo',
      start: (url) =>
        commentsService.start({ bus, config: loadCommentsConfig({ ...env, MONGO_URL: url }) }),
    },
    {
      name: 'payment',
      store: 'postgres',
      start: (url) =>
        paymentService.start({
          bus,
          config: loadConfig(paymentConfigSchema, { ...env, DATABASE_URL: url }),
        }),
    },
    {
      name: 'order',
      store: 'postgres',
      start: (url) =>
        orderService.start({
          bus,
          config: loadConfig(orderConfigSchema, { ...env, DATABASE_URL: url }),
        }),
    },
  ];

  it.each(services)('$name', async ({ name, store, start }) => {
    const api = SERVICE_APIS.find((a) => a.service === name)!;
    const list = Object.values(api.operations).find(
      (op) => op.method === 'get' && op.response.list,
    )!;
    const path = list.path.replace(/:\w+/g, '665f1c2b9a1e4d3c2b1a0f9e');
    const db =
      store === 'mongo'
        ? await createTestMongo(`outage_${name}`)
        : await createTestPostgres(`outage_${name}`);
    let relay: TcpRelay | undefined;
    let service: { url: string; stop(): Promise<void> } | undefined;
    try {
      relay = await startTcpRelay(db.url);
      service = await start(relay.relayed(db.url));
      const get = () =>
        fetch(`${service!.url}${path}`, { headers: { authorization: `Bearer ${admin}` } });
      expect((await get()).status).toBe(200);
      relay.cut();
      const down = await get();
      const body = (await down.json()) as { error: { code: string } };
      expect({ name, status: down.status, code: body.error.code }).toEqual({
        name,
        status: 503,
        code: 'DEPENDENCY_UNAVAILABLE',
      });
      expect((await fetch(`${service.url}/health/ready`)).status).toBe(503);
    } finally {
      await service?.stop().catch(() => undefined);
      await relay?.close();
      await db.cleanup();
    }
  });
});
