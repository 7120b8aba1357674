import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Role } from '@ecom/common/auth';
import { InMemoryEventBus, createEvent, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import {
  createTestMongo,
  sendJson,
  spyOnEvents,
  startHttpStub,
  testServiceEnv,
  tokenFor,
  type TestMongo,
} from '@ecom/test-support';
import { loadCommentsConfig } from '../src/config';
import { commentsService, type RunningCommentsService } from '../src/service';

/** A 24-hex id like the product service issues. */
export const newProductId = (): string => randomBytes(12).toString('hex');

/**
 * The product service at its HTTP boundary: `GET /api/products/:id` answers the product (in
 * the shape common's product client reads) for known ids, 404 otherwise; `mode` makes it fail.
 */
export interface ProductStub {
  url: string;
  /** 'malformed': 200 with a body that is not a product. */
  mode: 'up' | 'error' | 'slow' | 'malformed';
  /** Requests received so far. */
  readonly calls: number;
  /** Runs before each answer (tests use it to interleave events with a request). */
  beforeAnswer?: () => Promise<void>;
  /** A new product that exists, sold by `sellerId` (default 'seller-1'). */
  add(sellerId?: string): string;
  close(): Promise<void>;
}

export async function startProductStub(): Promise<ProductStub> {
  const sellers = new Map<string, string>();
  const stub = await startHttpStub(async (req, res) => {
    if (products.mode === 'error') return sendJson(res, 500, { error: {} });
    // Unref'd: a request still waiting here must not keep the test process alive.
    if (products.mode === 'slow') await new Promise((r) => setTimeout(r, 1000).unref());
    else if (products.beforeAnswer) await products.beforeAnswer();
    const id = /^\/api\/products\/([^/?]+)$/.exec(req.url ?? '')?.[1];
    if (products.mode === 'malformed') return sendJson(res, 200, { id });
    const sellerId = id && sellers.get(decodeURIComponent(id));
    if (sellerId) {
      return sendJson(res, 200, {
        id,
        name: 'Desk lamp',
        sellerId,
        price: { amount: 1999, currency: 'USD' },
      });
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Product not found' } });
  });
  const products: ProductStub = {
    url: stub.url,
    mode: 'up',
    get calls() {
      return stub.calls.length;
    },
    add(sellerId = 'seller-1') {
      const id = newProductId();
      sellers.set(id, sellerId);
      return id;
    },
    close: () => stub.close(),
  };
  return products;
}

/** The environment every test starts the service with, plus `env`. */
export function testConfig(mongoUrl: string, env: Record<string, string> = {}) {
  return loadCommentsConfig({
    ...testServiceEnv,
    NODE_ENV: 'test',
    MONGO_URL: mongoUrl,
    ...env,
  });
}

export interface Harness {
  service: RunningCommentsService;
  bus: InMemoryEventBus;
  products: ProductStub;
  mongo: TestMongo;
  /** Every comment.* event published, in order. */
  published: EventEnvelope[];
  token(userId: string, role?: Role): string;
  /** Requests to the service, each carrying `token` as its bearer when given. */
  http(token?: string): ReturnType<typeof request>;
  /** Documents in a collection of the service's database (to prove nothing was written). */
  count(collection: string, filter?: Record<string, unknown>): Promise<number>;
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(
  label: string,
  env: Record<string, string> = {},
  options: { wrapBus?: (bus: InMemoryEventBus) => EventBus } = {},
): Promise<Harness> {
  const mongo = await createTestMongo(label);
  const products = await startProductStub();
  const bus = new InMemoryEventBus({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
  const spy = await spyOnEvents(
    bus,
    ['comment.created', 'comment.updated', 'comment.deleted', 'comment.flagged'],
    'test-observer',
  );
  const service = await commentsService.start({
    config: testConfig(mongo.url, {
      PRODUCT_SERVICE_URL: products.url,
      PRODUCT_TIMEOUT_MS: '300',
      OUTBOX_RELAY_INTERVAL_MS: '50',
      ...env,
    }),
    bus: options.wrapBus ? options.wrapBus(bus) : bus,
  });
  return {
    service,
    bus,
    products,
    mongo,
    published: spy.events,
    token: (userId, role = 'customer') => tokenFor({ id: userId, role }),
    http: (token) =>
      token
        ? request.agent(service.url).set('Authorization', `Bearer ${token}`)
        : request(service.url),
    count: (collection, filter = {}) =>
      service.connection.collection(collection).countDocuments(filter),
    // One turn of the event loop first, so deliveries queued for the next turn have started.
    settle: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await bus.idle();
    },
    async stop() {
      await service.stop();
      await bus.close();
      await products.close();
      await mongo.cleanup();
    },
  };
}

/** An event as another service would publish it. */
export const envelope = (eventType: string, data: Record<string, unknown>) =>
  createEvent('test', eventType, data);
