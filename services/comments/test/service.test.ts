import { Types } from 'mongoose';
import request from 'supertest';
import { InMemoryEventBus, createEvent } from '@ecom/common/bus';
import { ConfigError } from '@ecom/common/config';
import {
  bearer,
  createTestMongo,
  indexKeyPatterns,
  testJwtEnv,
  type TestMongo,
} from '@ecom/test-support';
import { loadCommentsConfig } from '../src/config';
import { commentsService } from '../src/service';
import { testConfig } from './harness';

const admin = { id: 'admin-1', role: 'admin' as const };
const alice = { id: 'alice', role: 'customer' as const };
/** Every product exists, without a product service. */
const anyProduct = { find: async () => ({ sellerId: 'seller-1' }) };

describe('commentsService.start', () => {
  let mongo: TestMongo;
  beforeEach(async () => {
    mongo = await createTestMongo('comments_service');
  });
  afterEach(async () => {
    await mongo.cleanup();
  });

  it('serves health checks on a free port and leaves nothing open after stop()', async () => {
    const bus = new InMemoryEventBus();
    const service = await commentsService.start({ config: testConfig(mongo.url), bus });
    try {
      expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const ready = await request(service.url).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'ok',
        service: 'comments',
        checks: { mongo: { status: 'up' }, eventBus: { status: 'up' } },
      });
      const metrics = await request(service.url).get('/metrics');
      expect(metrics.text).toContain('http_requests_total');
      const unknown = await request(service.url).get('/api/nothing');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NOT_FOUND');
      // The unique index that enforces one review per user per product exists.
      const indexes = await service.connection.collection('comments').indexes();
      expect(indexes.find((i) => i.key.reviewSlot === 1)).toMatchObject({ unique: true });
      // Each listing's sort, _id tie-break included, is an index MongoDB walks in order: the
      // reviews of a product (newest, helpful) and the replies of a page's threads.
      const keys = indexKeyPatterns(indexes);
      expect(keys).toEqual(
        expect.arrayContaining([
          'productId:1,depth:1,createdAt:-1,_id:-1',
          'productId:1,depth:1,helpfulCount:-1,createdAt:-1,_id:-1',
          'rootId:1,createdAt:1,_id:1',
        ]),
      );
    } finally {
      await service.stop();
      await bus.close();
    }
    expect(service.server.listening).toBe(false);
    expect(service.connection.readyState).toBe(0);
    await service.stop(); // idempotent
  });

  it('reports a dead bus on /health/ready as degrading it, still ready', async () => {
    const bus = new InMemoryEventBus();
    const service = await commentsService.start({ config: testConfig(mongo.url), bus });
    try {
      await bus.close();
      const ready = await request(service.url).get('/health/ready');
      // Still serving (events wait in the outbox): degraded, not taken out of rotation.
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('degraded');
      expect(ready.body.checks.eventBus.status).toBe('down');
    } finally {
      await service.stop();
    }
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE and is not ready while MongoDB cannot be reached', async () => {
    const bus = new InMemoryEventBus();
    const service = await commentsService.start({
      config: testConfig(mongo.url),
      bus,
      options: { catalog: anyProduct },
    });
    try {
      await service.connection.getClient().close(true);
      const read = await request(service.url).get(`/api/comments/${'a'.repeat(24)}`);
      const write = await request(service.url)
        .post('/api/comments')
        .set('Authorization', bearer(alice))
        .send({ productId: 'p1', text: 'x', rating: 3 });
      for (const res of [read, write]) {
        expect(res.status).toBe(503);
        expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
        expect(JSON.stringify(res.body)).not.toMatch(/Mongo\w*Error|at \w+ \(/);
      }
      const ready = await request(service.url).get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.mongo.status).toBe('down');
    } finally {
      await service.stop();
      await bus.close();
    }
  });

  it('takes the product check and the clock from its options', async () => {
    const bus = new InMemoryEventBus();
    const at = new Date('2030-01-02T03:04:05.000Z');
    const asked: string[] = [];
    const service = await commentsService.start({
      // No product service at this address: only the injected catalog is asked.
      config: testConfig(mongo.url, { PRODUCT_SERVICE_URL: 'http://127.0.0.1:9' }),
      bus,
      options: {
        catalog: {
          find: async (id) => (asked.push(id), id === 'known' ? { sellerId: 'seller-1' } : null),
        },
        now: () => at,
      },
    });
    try {
      const post = (productId: string) =>
        request(service.url)
          .post('/api/comments')
          .set('Authorization', bearer(alice))
          .send({ productId, text: 'x', rating: 4 });
      const created = await post('known');
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ createdAt: at.toISOString(), status: 'VISIBLE' });
      expect((await post('unknown')).status).toBe(404);
      expect(asked).toEqual(['known', 'unknown']);
    } finally {
      await service.stop();
      await bus.close();
    }
  });

  it('renames statuses stored in lower case by earlier versions when it starts', async () => {
    const bus = new InMemoryEventBus();
    const start = () =>
      commentsService.start({
        config: testConfig(mongo.url),
        bus,
        options: { catalog: anyProduct },
      });
    const first = await start();
    const ids: Record<string, string> = {};
    for (const status of ['visible', 'hidden']) {
      const res = await request(first.url)
        .post('/api/comments')
        .set('Authorization', bearer({ id: `author-${status}`, role: 'customer' }))
        .send({ productId: 'p-old', text: status, rating: 3 });
      ids[status] = res.body.id as string;
      // As an earlier version stored it.
      await first.connection
        .collection('comments')
        .updateOne({ _id: new Types.ObjectId(ids[status]) }, { $set: { status } });
    }
    await first.stop();
    const service = await start();
    try {
      const get = (id: string) =>
        request(service.url).get(`/api/comments/${id}`).set('Authorization', bearer(admin));
      expect((await get(ids.visible!)).body.status).toBe('VISIBLE');
      expect((await get(ids.hidden!)).body.status).toBe('HIDDEN');
      // Hidden stays hidden from everyone else.
      expect((await request(service.url).get(`/api/comments/${ids.hidden}`)).status).toBe(404);
      expect(
        await service.connection
          .collection('comments')
          .countDocuments({ status: { $in: ['visible', 'hidden', 'deleted'] } }),
      ).toBe(0);
    } finally {
      await service.stop();
      await bus.close();
    }
  });

  it('refuses deliveries after stop() so the bus keeps them, and fails cleanly on a taken port', async () => {
    const bus = new InMemoryEventBus({ retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    const config = testConfig(mongo.url);
    const service = await commentsService.start({ config, bus });
    const port = new URL(service.url).port;
    // A second instance on the same port: the start fails and closes what it opened.
    await expect(
      commentsService.start({ config: { ...config, PORT: Number(port) }, bus }),
    ).rejects.toThrow(/EADDRINUSE/);
    await service.stop();

    await bus.publish(createEvent('test', 'product.deleted', { productId: 'p-after-stop' }));
    await new Promise((resolve) => setImmediate(resolve));
    await bus.idle();
    // Both subscriptions (the stopped service and the failed start) refused it: nothing was
    // handled against a closed connection, and the bus kept the event with the reason.
    expect(bus.deadLetters.length).toBeGreaterThan(0);
    expect(bus.deadLetters.map((d) => d.reason)).toContain('comments consumer is stopped');
    await bus.close();
  });
});

describe('configuration', () => {
  const { JWT_PUBLIC_KEY } = testJwtEnv;
  it('has the documented defaults', () => {
    const config = loadCommentsConfig({ JWT_PUBLIC_KEY });
    expect(config).toMatchObject({
      PORT: 3003,
      MONGO_URL: 'mongodb://127.0.0.1:27017/comments_db',
      PRODUCT_SERVICE_URL: ['http://127.0.0.1:3002'],
      FLAG_REVIEW_THRESHOLD: 3,
      FLAG_HIDE_THRESHOLD: 5,
      FLAG_TRUSTED_ACCOUNT_AGE_DAYS: 30,
      MAX_THREAD_DEPTH: 3,
      COMMENT_MAX_LENGTH: 5000,
      EVENT_BUS: 'memory',
    });
  });

  it.each([
    ['FLAG_HIDE_THRESHOLD', '0'],
    ['FLAG_REVIEW_THRESHOLD', '0'],
    ['FLAG_TRUSTED_ACCOUNT_AGE_DAYS', '-1'],
    ['PORT', '70000'],
    ['MONGO_URL', 'http://not-mongo'],
    ['PRODUCT_SERVICE_URL', 'ftp://x'],
    ['MAX_THREAD_DEPTH', 'deep'],
    ['COMMENT_MAX_LENGTH', '20001'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadCommentsConfig({ JWT_PUBLIC_KEY, [name]: value })).toThrow(ConfigError);
    expect(() => loadCommentsConfig({ JWT_PUBLIC_KEY, [name]: value })).toThrow(name);
  });

  it('requires the JWT public key', () => {
    expect(() => loadCommentsConfig({})).toThrow('JWT_PUBLIC_KEY');
  });
});
