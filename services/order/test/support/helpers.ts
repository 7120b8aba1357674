import { verifyAccessToken } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import { createTestPostgres } from '@ecom/infrastructure/testing';
import {
  recordingAnchor,
  sendJson,
  spyOnEvents,
  startHttpStub,
  testKeys,
  testJwtEnv,
  testServiceEnv,
  testPool,
} from '@ecom/test-support';
import { orderConfigSchema } from '../../src/config';
import { orderService } from '../../src/service';
import { orderSnapshot } from '../../src/store/order-record';

export interface StubProduct {
  id: string;
  name: string;
  priceCents: number;
  currency?: string;
  sellerId?: string;
  /** Free units product reports (10 when left out). */
  available?: number;
}

/**
 * A real HTTP product service answering GET /api/products/:id as the product service does;
 * `down` makes it answer 503, `calls` counts reads.
 */
export async function startProductStub(products: StubProduct[]) {
  const byId = new Map(products.map((p) => [p.id, p]));
  const state = { down: false, calls: 0, correlationIds: [] as string[] };
  const stub = await startHttpStub((req, res) => {
    state.calls += 1;
    state.correlationIds.push(String(req.headers['x-correlation-id'] ?? ''));
    if (state.down) return sendJson(res, 503, { error: { code: 'DOWN', message: 'down' } });
    const match = /^\/api\/products\/([^/?]+)$/.exec(req.url ?? '');
    const product = match ? byId.get(decodeURIComponent(match[1]!)) : undefined;
    if (!product) {
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Product not found' } });
    }
    sendJson(res, 200, {
      id: product.id,
      sellerId: product.sellerId ?? 'seller-1',
      name: product.name,
      price: { amount: product.priceCents, currency: product.currency ?? 'USD' },
      inventory: { available: product.available ?? 10, reserved: 0, lowStockThreshold: 5 },
    });
  });
  return { url: stub.url, state, products: byId, close: stub.close };
}

export interface StubProfile {
  name: string;
  address?: {
    line1: string;
    line2?: string;
    city: string;
    country: string;
    postalCode?: string;
    region?: string;
  };
}

/**
 * A real HTTP auth service answering GET /api/auth/profile as auth does: it verifies the
 * bearer token (the test key pair) and answers that user's profile, 404 for an account it
 * does not hold, 401 without a valid token; `down` makes it answer 503.
 */
export async function startAuthStub(profiles: Map<string, StubProfile>) {
  const state = { down: false, calls: 0 };
  const stub = await startHttpStub((req, res) => {
    state.calls += 1;
    if (state.down) return sendJson(res, 503, { error: { code: 'DOWN', message: 'down' } });
    if (req.url !== '/api/auth/profile')
      return sendJson(res, 404, { error: { code: 'NOT_FOUND' } });
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    let userId: string | undefined;
    try {
      userId = token
        ? verifyAccessToken(token, {
            algorithm: 'ES256',
            key: testKeys.publicKey,
            issuer: testJwtEnv.JWT_ISSUER,
            audience: testJwtEnv.JWT_AUDIENCE,
          }).sub
        : undefined;
    } catch {
      userId = undefined;
    }
    if (!userId)
      return sendJson(res, 401, { error: { code: 'UNAUTHORIZED', message: 'no token' } });
    const profile = profiles.get(userId);
    if (!profile)
      return sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'User not found' } });
    sendJson(res, 200, {
      id: userId,
      email: `${userId}@example.test`,
      role: 'customer',
      ...profile,
    });
  });
  return { url: stub.url, state, close: stub.close };
}

/** The test bus's replay window: an outbox row keeps its card token this long after its send. */
export const ORDER_TEST_REPLAY_WINDOW_MS = 500;

/**
 * The order service on a database of its own (real PostgreSQL), with product and auth as
 * real HTTP stubs and the in-memory bus: what the component tests share. `restart` stops and
 * starts the service on the same database; `close` removes everything.
 */
export async function startOrderUnderTest(options: {
  label: string;
  products: StubProduct[];
  profiles?: Map<string, StubProfile>;
  env?: Record<string, string>;
  /** The events the spy records (default: order.created). */
  events?: string[];
}) {
  const db = await createTestPostgres(options.label);
  const product = await startProductStub(options.products);
  const auth = await startAuthStub(options.profiles ?? new Map());
  // A short replay window: the relay erases the card token this long after the send (ADR 0056).
  const bus = new InMemoryEventBus({
    retry: { baseDelayMs: 10, maxAttempts: 3 },
    replayWindowMs: ORDER_TEST_REPLAY_WINDOW_MS,
  });
  const spy = await spyOnEvents(bus, options.events ?? ['order.created']);
  const anchor = recordingAnchor(orderSnapshot);
  const config = loadConfig(orderConfigSchema, {
    ...testServiceEnv,
    DATABASE_URL: db.url,
    PRODUCT_SERVICE_URL: product.url,
    PRODUCT_TIMEOUT_MS: '500',
    AUTH_SERVICE_URL: auth.url,
    AUTH_TIMEOUT_MS: '500',
    OUTBOX_POLL_INTERVAL_MS: '20',
    ...options.env,
  });
  const start = () => orderService.start({ config, bus, options: { anchor } });
  const pool = testPool(db.url, 4);
  const running = { service: await start(), db, product, auth, bus, spy, pool, anchor };
  return Object.assign(running, {
    async restart() {
      await running.service.stop();
      running.service = await start();
    },
    async close() {
      await running.service.stop();
      await bus.close();
      await pool.end();
      await product.close();
      await auth.close();
      await db.cleanup();
    },
  });
}
