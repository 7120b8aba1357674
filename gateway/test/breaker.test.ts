import request from 'supertest';
import { buildGateway, type Gateway } from '../src/app';
import {
  closeStubs,
  customer,
  logger,
  startStubs,
  testConfig,
  tokenFor,
  type Stubs,
} from './helpers';

let stubs: Stubs;
let gateway: Gateway;
const auth = `Bearer ${tokenFor(customer)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  stubs = await startStubs();
});

afterAll(async () => {
  await closeStubs(stubs);
});

beforeEach(() => {
  gateway = buildGateway({
    config: testConfig(stubs, {
      UPSTREAM_TIMEOUT_MS: '300',
      BREAKER_VOLUME_THRESHOLD: '3',
      BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50',
      BREAKER_RESET_TIMEOUT_MS: '400',
    }),
    logger,
  });
  for (const stub of Object.values(stubs)) {
    stub.received.length = 0;
    stub.delayMs = 0;
  }
});

afterEach(() => gateway.close());

async function timed(path: string) {
  const started = performance.now();
  const res = await request(gateway.handler).get(path).set('Authorization', auth);
  return { res, ms: performance.now() - started };
}

describe('a dead upstream', () => {
  it('answers 503, opens the circuit, then fails fast; recovers by itself once back', async () => {
    await stubs.order.close();
    try {
      const first = await timed('/api/orders/o1');
      expect(first.res.status).toBe(503);
      expect(first.res.body.error).toMatchObject({
        code: 'DEPENDENCY_UNAVAILABLE',
        details: { dependency: 'order', reason: 'unreachable' },
      });
      await timed('/api/orders/o1');
      await timed('/api/orders/o1');
      expect(gateway.proxies.order.breaker.opened).toBe(true);

      const open = await timed('/api/orders/o1');
      expect(open.res.status).toBe(503);
      expect(open.res.body.error.details).toEqual({ dependency: 'order', circuit: 'open' });
      expect(open.res.headers['retry-after']).toBe('1');
      expect(open.ms).toBeLessThan(100);
      // Other upstreams are unaffected.
      expect((await timed('/api/payments/p1')).res.status).toBe(200);
    } finally {
      await stubs.order.restart();
    }
    // Still open right after the restart: nothing reaches the service yet.
    expect((await timed('/api/orders/o1')).res.status).toBe(503);
    expect(stubs.order.received).toHaveLength(0);

    await sleep(450); // resetTimeout: the next request is the half-open trial
    const trial = await timed('/api/orders/o1');
    expect(trial.res.status).toBe(200);
    expect(gateway.proxies.order.breaker.closed).toBe(true);
    expect((await timed('/api/orders/o2')).res.status).toBe(200);
    expect(stubs.order.received).toHaveLength(2);
  });
});

describe('a hanging upstream', () => {
  it('answers 504 after UPSTREAM_TIMEOUT_MS, then 503 at once while the circuit is open', async () => {
    stubs.product.delayMs = 5000;
    const timeouts = [];
    for (let i = 0; i < 3; i += 1) timeouts.push(await timed('/api/products/p1'));
    for (const t of timeouts) {
      expect(t.res.status).toBe(504);
      expect(t.res.body.error).toMatchObject({
        code: 'UPSTREAM_TIMEOUT',
        details: { dependency: 'product' },
      });
      expect(t.res.body.error.requestId).toBe(t.res.headers['x-request-id']);
      expect(t.ms).toBeGreaterThanOrEqual(290);
      expect(t.ms).toBeLessThan(2000);
    }
    const fast = await timed('/api/products/p1');
    expect(fast.res.status).toBe(503);
    expect(fast.res.body.error.details.circuit).toBe('open');
    expect(fast.ms).toBeLessThan(100);
    expect(stubs.product.received).toHaveLength(3);

    stubs.product.delayMs = 0;
    await sleep(450);
    expect((await timed('/api/products/p1')).res.status).toBe(200);
    expect((await timed('/api/products/p2')).res.status).toBe(200);
  });

  it('a half-open trial that times out opens the circuit again', async () => {
    stubs.comments.delayMs = 5000;
    for (let i = 0; i < 3; i += 1) await timed('/api/comments/c1');
    expect(gateway.proxies.comments.breaker.opened).toBe(true);
    await sleep(450);
    const trial = await timed('/api/comments/c1');
    expect(trial.res.status).toBe(504);
    expect(gateway.proxies.comments.breaker.opened).toBe(true);
    expect((await timed('/api/comments/c1')).ms).toBeLessThan(100);
  });
});

describe('what counts against the breaker', () => {
  it('503 answers pass through unchanged and open the circuit', async () => {
    for (let i = 0; i < 3; i += 1) {
      const { res } = await timed('/api/payments/__status/503');
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('UPSTREAM_SAID_SO');
    }
    expect(gateway.proxies.payment.breaker.opened).toBe(true);
    const { res } = await timed('/api/payments/p1');
    expect(res.body.error.details.circuit).toBe('open');
  });

  it('4xx and 500 answers never open it', async () => {
    for (const status of [400, 404, 409, 422, 500, 400, 500, 404]) {
      const { res } = await timed(`/api/auth/__status/${status}`);
      expect(res.status).toBe(status);
    }
    expect(gateway.proxies.auth.breaker.closed).toBe(true);
    expect((await timed('/api/auth/profile')).res.status).toBe(200);
  });
});
