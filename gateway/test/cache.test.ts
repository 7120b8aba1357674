import request from 'supertest';
import type { Redis } from 'ioredis';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { buildGateway, type Gateway } from '../src/app';
import { createGatewayRedis } from '../src/service';
import { logger, seller, testConfig, tokenFor, uniquePrefix, useStubs } from './helpers';

const stubs = useStubs();
const sellerAuth = `Bearer ${tokenFor(seller)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const productReads = () => stubs.product.received.filter((r) => r.method === 'GET').length;

describe('cache off (the default)', () => {
  it('every read reaches the service and no X-Cache header is set', async () => {
    const gateway = buildGateway({ config: testConfig(stubs), logger });
    const a = await request(gateway.handler).get('/api/products/p1');
    const b = await request(gateway.handler).get('/api/products/p1');
    expect(a.headers['x-cache']).toBeUndefined();
    expect(b.body.served).toBe(a.body.served + 1);
    expect(productReads()).toBe(2);
    await gateway.close();
  });
});

describe('cache on (GATEWAY_CACHE_TTL_MS=60000)', () => {
  let gateway: Gateway;
  // Long enough that a HIT expected holds, and a MISS expected is never expiry's, on a busy
  // machine.
  const config = (ttlMs: number) => testConfig(stubs, { GATEWAY_CACHE_TTL_MS: String(ttlMs) });
  beforeEach(() => {
    gateway = buildGateway({ config: config(60_000), logger });
  });
  afterEach(() => gateway.close());

  it('MISS then HIT with the same body; per-request ids stay fresh', async () => {
    const miss = await request(gateway.handler).get('/api/products/p1?view=full');
    expect(miss.status).toBe(200);
    expect(miss.headers['x-cache']).toBe('MISS');
    const hit = await request(gateway.handler).get('/api/products/p1?view=full');
    expect(hit.status).toBe(200);
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    expect(hit.headers['content-type']).toMatch(/application\/json/);
    expect(hit.headers['x-request-id']).not.toBe(miss.headers['x-request-id']);
    expect(hit.headers['ratelimit-limit']).toBeDefined();
    expect(productReads()).toBe(1);
    // Another query string is another entry.
    expect(
      (await request(gateway.handler).get('/api/products/p1?view=short')).headers['x-cache'],
    ).toBe('MISS');
  });

  it('expires after the TTL', async () => {
    const short = buildGateway({ config: config(300), logger });
    try {
      await request(short.handler).get('/api/products/p2');
      await sleep(350);
      const again = await request(short.handler).get('/api/products/p2');
      expect(again.headers['x-cache']).toBe('MISS');
      expect(productReads()).toBe(2);
    } finally {
      await short.close();
    }
  });

  it('authenticated reads bypass it (their answer may depend on who asks)', async () => {
    await request(gateway.handler).get('/api/products/p3');
    const res = await request(gateway.handler)
      .get('/api/products/p3')
      .set('Authorization', sellerAuth);
    expect(res.headers['x-cache']).toBe('BYPASS');
    expect(productReads()).toBe(2);
  });

  it('a write through the gateway invalidates it', async () => {
    await request(gateway.handler).get('/api/products/p4');
    expect((await request(gateway.handler).get('/api/products/p4')).headers['x-cache']).toBe('HIT');
    const write = await request(gateway.handler)
      .put('/api/products/p4')
      .set('Authorization', sellerAuth)
      .send({ price: 5 });
    expect(write.status).toBe(200);
    const after = await request(gateway.handler).get('/api/products/p4');
    expect(after.headers['x-cache']).toBe('MISS');
    expect(productReads()).toBe(2);
  });

  it('a read that started before a whole write happened is not stored (it may hold the old data)', async () => {
    // The read waits at the service; the write starts and finishes meanwhile.
    stubs.product.delayFor = ({ method }) => (method === 'GET' ? 200 : 0);
    const read = request(gateway.handler)
      .get('/api/products/p5')
      .then((r) => r);
    await sleep(40);
    const write = await request(gateway.handler)
      .delete('/api/products/p5')
      .set('Authorization', sellerAuth);
    expect(write.status).toBe(200);
    expect((await read).headers['x-cache']).toBe('MISS');
    stubs.product.delayFor = undefined;
    const next = await request(gateway.handler).get('/api/products/p5');
    expect(next.headers['x-cache']).toBe('MISS');
  });

  it('a read made while a write is in flight is dropped when the write finishes', async () => {
    // The write waits at the service; a read runs and completes meanwhile (it may see the old
    // or the new data), so the end of the write must drop it.
    stubs.product.delayFor = ({ method }) => (method === 'GET' ? 0 : 800);
    const write = request(gateway.handler)
      .put('/api/products/p6')
      .set('Authorization', sellerAuth)
      .send({ price: 7 })
      .then((r) => r);
    await sleep(40);
    expect((await request(gateway.handler).get('/api/products/p6')).headers['x-cache']).toBe(
      'MISS',
    );
    expect((await request(gateway.handler).get('/api/products/p6')).headers['x-cache']).toBe('HIT');
    expect((await write).status).toBe(200);
    expect((await request(gateway.handler).get('/api/products/p6')).headers['x-cache']).toBe(
      'MISS',
    );
  });

  it.each([
    ['Cache-Control: no-store', { 'cache-control': 'no-store' }],
    ['Cache-Control: private', { 'cache-control': 'private, max-age=60' }],
    ['Set-Cookie', { 'set-cookie': 'session=abc' }],
    ['Vary: Authorization', { vary: 'Authorization' }],
    ['Vary: *', { vary: '*' }],
  ])('answers with %s are never stored', async (_label, headers) => {
    stubs.product.productHeaders = headers;
    await request(gateway.handler).get('/api/products/p7');
    const again = await request(gateway.handler).get('/api/products/p7');
    expect(again.headers['x-cache']).toBe('MISS');
    expect(productReads()).toBe(2);
  });

  it("renames the service's own X-Cache so the two layers stay apart", async () => {
    stubs.product.productHeaders = { 'x-cache': 'HIT' };
    const miss = await request(gateway.handler).get('/api/products/p8');
    expect(miss.headers['x-cache']).toBe('MISS');
    expect(miss.headers['x-upstream-cache']).toBe('HIT');
    const hit = await request(gateway.handler).get('/api/products/p8');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['x-upstream-cache']).toBe('HIT');
  });

  it('counts hits, misses and bypasses in /metrics', async () => {
    await request(gateway.handler).get('/api/products/p9');
    await request(gateway.handler).get('/api/products/p9');
    await request(gateway.handler).get('/api/products/p9');
    await request(gateway.handler).get('/api/products/p9').set('Authorization', sellerAuth);
    const text = (await request(gateway.handler).get('/metrics')).text;
    const count = (result: string) =>
      Number(
        new RegExp(`gateway_cache_requests_total\\{result="${result}"[^}]*\\} (\\d+)`).exec(
          text,
        )?.[1],
      );
    expect([count('miss'), count('hit'), count('bypass')]).toEqual([1, 2, 1]);
  });

  it('error answers are not cached', async () => {
    await request(gateway.handler).get('/api/products/__status-404');
    const again = await request(gateway.handler).get('/api/products/__status-404');
    expect(again.status).toBe(404);
    expect(again.headers['x-cache']).toBe('MISS');
  });
});

describe('cache bounds', () => {
  it('keeps at most GATEWAY_CACHE_MAX_ENTRIES answers, dropping the oldest', async () => {
    const gateway = buildGateway({
      config: testConfig(stubs, { GATEWAY_CACHE_TTL_MS: '5000', GATEWAY_CACHE_MAX_ENTRIES: '2' }),
      logger,
    });
    try {
      for (const id of ['a', 'b', 'c']) await request(gateway.handler).get(`/api/products/${id}`);
      expect(gateway.cache!.size).toBe(2);
      expect((await request(gateway.handler).get('/api/products/c')).headers['x-cache']).toBe(
        'HIT',
      );
      expect((await request(gateway.handler).get('/api/products/a')).headers['x-cache']).toBe(
        'MISS',
      );
    } finally {
      await gateway.close();
    }
  });

  it('does not store an answer above GATEWAY_CACHE_MAX_BODY_BYTES (and still serves it whole)', async () => {
    const gateway = buildGateway({
      config: testConfig(stubs, {
        GATEWAY_CACHE_TTL_MS: '5000',
        GATEWAY_CACHE_MAX_BODY_BYTES: '2000',
      }),
      logger,
    });
    try {
      stubs.product.productPaddingBytes = 5000;
      const first = await request(gateway.handler).get('/api/products/big');
      expect(first.body.padding).toHaveLength(5000);
      const second = await request(gateway.handler).get('/api/products/big');
      expect(second.headers['x-cache']).toBe('MISS');
      expect(gateway.cache!.size).toBe(0);
      stubs.product.productPaddingBytes = 500;
      await request(gateway.handler).get('/api/products/small');
      expect((await request(gateway.handler).get('/api/products/small')).headers['x-cache']).toBe(
        'HIT',
      );
    } finally {
      await gateway.close();
    }
  });
});

describeIfServer('redis', 'cache invalidation across gateway instances', (redisUrl) => {
  let redisA: Redis;
  let redisB: Redis;
  let a: Gateway;
  let b: Gateway;

  beforeAll(async () => {
    redisA = createGatewayRedis(redisUrl, logger, 1000);
    redisB = createGatewayRedis(redisUrl, logger, 1000);
    const config = testConfig(stubs, {
      GATEWAY_CACHE_TTL_MS: '60000',
      REDIS_URL: redisUrl,
      GATEWAY_KEY_PREFIX: uniquePrefix('cache'),
    });
    await sleep(100);
    a = buildGateway({ config, logger, redis: redisA });
    b = buildGateway({ config, logger, redis: redisB });
    await Promise.all([a.ready, b.ready]);
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await redisA.quit();
    await redisB.quit();
  });

  it('a write through instance A drops what instance B cached', async () => {
    await request(b.handler).get('/api/products/shared');
    expect((await request(b.handler).get('/api/products/shared')).headers['x-cache']).toBe('HIT');
    await request(a.handler).put('/api/products/shared').set('Authorization', sellerAuth).send({});
    // Dropped through Redis's pub/sub, well inside the TTL (60 s).
    let status = 'HIT';
    for (const until = Date.now() + 8000; status === 'HIT' && Date.now() < until;) {
      await sleep(25);
      status = b.cache!.get('/api/products/shared') ? 'HIT' : 'MISS';
    }
    expect(status).toBe('MISS');
    expect((await request(b.handler).get('/api/products/shared')).headers['x-cache']).toBe('MISS');
  });
});
