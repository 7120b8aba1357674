import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import request from 'supertest';
import { InMemoryEventBus } from '@ecom/common/bus';
import { bearer, describeIfServer } from '@ecom/test-support';
import { productService, type RunningProductService } from '../src/service';
import { initialGeneration } from '../src/store/cache/cache';
import { VIEW_VERSION } from '../src/store/cache/catalog-cache';
import { RedisCache } from '../src/store/cache/redis-cache';
import { seller, startHarness, type Harness } from './support/helpers';

describeIfServer('redis', 'catalog cache on the real Redis', (redisUrl) => {
  const prefix = `test:product:${process.pid}:${randomBytes(4).toString('hex')}:`;
  let raw: Redis;

  beforeAll(async () => {
    raw = new Redis(redisUrl);
  });
  afterAll(async () => {
    const keys = await raw.keys(`${prefix}*`);
    if (keys.length > 0) await raw.del(...keys);
    await raw.quit();
  });

  describe('RedisCache adapter', () => {
    let cache: RedisCache;
    beforeAll(async () => {
      cache = await RedisCache.connect(redisUrl);
    });
    afterAll(async () => {
      await cache.close();
    });

    it('stores values with a TTL', async () => {
      await cache.set(`${prefix}a`, '{"x":1}', 30);
      expect(await cache.get(`${prefix}a`)).toBe('{"x":1}');
      const ttl = await raw.ttl(`${prefix}a`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(30);
      expect(await cache.get(`${prefix}missing`)).toBeNull();
    });

    it('starts generations from a time-based value and bumps them', async () => {
      const before = Number(initialGeneration());
      const g1 = Number(await cache.generation(`${prefix}gen`));
      expect(g1).toBeGreaterThanOrEqual(before);
      expect(Number(await cache.generation(`${prefix}gen`))).toBe(g1);
      await cache.bump(`${prefix}gen`);
      expect(await cache.generations([`${prefix}gen`, `${prefix}gen`])).toEqual([
        String(g1 + 1),
        String(g1 + 1),
      ]);
      // Generations never expire (an expired one could bring old entries back).
      expect(await raw.ttl(`${prefix}gen`)).toBe(-1);
      await cache.bump(`${prefix}fresh`);
      expect(Number(await raw.get(`${prefix}fresh`))).toBeGreaterThanOrEqual(before);
    });

    it('bumps several generations at once, each to a value it never had', async () => {
      const [a, b] = (await cache.generations([`${prefix}gen-a`, `${prefix}gen-b`])).map(Number);
      await cache.bump(`${prefix}gen-a`, `${prefix}gen-b`, `${prefix}gen-new`);
      const after = (
        await cache.generations([`${prefix}gen-a`, `${prefix}gen-b`, `${prefix}gen-new`])
      ).map(Number);
      expect(after.slice(0, 2)).toEqual([a + 1, b + 1]);
      expect(after[2]).toBeGreaterThanOrEqual(Number(initialGeneration()) - 60_000_000);
    });

    it('bumps several generations in one command, also after Redis forgot its scripts', async () => {
      await raw.set(`${prefix}gen-s1`, '7');
      await raw.script('FLUSH');
      const monitor = await raw.monitor();
      const commands: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.some((a) => a.startsWith(prefix))) commands.push(args);
      });
      try {
        await cache.bump(`${prefix}gen-s1`, `${prefix}gen-s2`);
        await cache.bump(`${prefix}gen-s1`, `${prefix}gen-s2`);
        for (let waited = 0; commands.length < 3 && waited < 2000; waited += 10) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        // The first bump's EVALSHA is refused (NOSCRIPT) and sent again as EVAL; the second
        // runs the cached script. The script's own SET and INCR are not the client's commands.
        const sent = commands.filter(([name]) => ['evalsha', 'eval'].includes(name.toLowerCase()));
        expect(sent.map(([name]) => name.toLowerCase())).toEqual(['evalsha', 'eval', 'evalsha']);
      } finally {
        monitor.disconnect();
      }
      expect(await raw.get(`${prefix}gen-s1`)).toBe('9');
      expect(Number(await raw.get(`${prefix}gen-s2`))).toBeGreaterThanOrEqual(
        Number(initialGeneration()) - 60_000_000,
      );
    });

    it('reads generations and an entry in one round trip, starting a missing generation', async () => {
      await raw.set(`${prefix}gen-r`, '41');
      await cache.set(`${prefix}entry`, '41|{"x":1}', 30);
      const monitor = await raw.monitor();
      const commands: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.some((a) => a.startsWith(prefix))) commands.push(args);
      });
      try {
        expect(await cache.getWithGenerations([`${prefix}gen-r`], `${prefix}entry`)).toEqual({
          gens: ['41'],
          value: '41|{"x":1}',
        });
        // MONITOR reports on its own connection, a moment later: wait for the first command,
        // then a little longer for any that would follow it.
        for (let waited = 0; commands.length === 0 && waited < 2000; waited += 10) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(commands).toEqual([['mget', `${prefix}gen-r`, `${prefix}entry`]]);
      } finally {
        monitor.disconnect();
      }
      const before = Number(initialGeneration());
      const fresh = await cache.getWithGenerations([`${prefix}gen-s`], `${prefix}none`);
      expect(fresh.value).toBeNull();
      expect(Number(fresh.gens[0])).toBeGreaterThanOrEqual(before);
      expect(await raw.get(`${prefix}gen-s`)).toBe(fresh.gens[0]);
    });

    it('answers ping', async () => {
      await expect(cache.ping()).resolves.toBeUndefined();
    });
  });

  describe('two service instances sharing Redis', () => {
    let h: Harness;
    let other: RunningProductService;
    let otherBus: InMemoryEventBus;

    beforeAll(async () => {
      h = await startHarness('product_redis_cache', {
        CACHE_DRIVER: 'redis',
        REDIS_URL: redisUrl,
        CACHE_KEY_PREFIX: prefix,
      });
      otherBus = new InMemoryEventBus();
      other = await productService.start({ config: h.config, bus: otherBus });
    });
    afterAll(async () => {
      await other.stop();
      await otherBus.close();
      await h.close();
    });

    it('caches detail and list reads in Redis and never serves a stale price or stock after a write elsewhere', async () => {
      const created = await request(h.service.app)
        .post('/api/products')
        .set('Authorization', bearer(seller))
        .send({ name: 'Shared', price: 3.33, inventory: 9 });
      const id = created.body.id as string;
      const a = () => request(h.service.app);
      const b = () => request(other.app);

      expect((await a().get(`/api/products/${id}`)).headers['x-cache']).toBe('MISS');
      const hit = await b().get(`/api/products/${id}`);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body.price).toEqual({ amount: 333, currency: 'USD' });
      // One key per product, stamped with the product's generation it was loaded under.
      const entry = await raw.get(`${prefix}item:${id}:${VIEW_VERSION}`);
      const gen = await raw.get(`${prefix}gen:item:${id}`);
      expect(entry?.startsWith(`${gen}|{`)).toBe(true);
      expect(await raw.keys(`${prefix}item:${id}:*`)).toHaveLength(1);

      const list = `/api/products?sellerId=${seller.id}&sort=price`;
      expect((await a().get(list)).headers['x-cache']).toBe('MISS');
      expect((await b().get(list)).headers['x-cache']).toBe('HIT');

      // A write through instance B invalidates what instance A reads.
      await b()
        .put(`/api/products/${id}`)
        .set('Authorization', bearer(seller))
        .send({ price: 4.44 })
        .expect(200);
      const fresh = await a().get(`/api/products/${id}`);
      expect(fresh.headers['x-cache']).toBe('MISS');
      expect(fresh.body.price.amount).toBe(444);
      expect((await a().get(list)).body.items[0].price.amount).toBe(444);

      await b()
        .put(`/api/products/${id}/inventory`)
        .set('Authorization', bearer(seller))
        .send({ set: 1 })
        .expect(200);
      expect((await a().get(`/api/products/${id}`)).body.inventory.available).toBe(1);
      expect((await a().get(list)).body.items[0].inventory.available).toBe(1);
    });

    it('reports the cache in readiness and hit/miss counters on /metrics', async () => {
      const ready = await request(h.service.app).get('/health/ready');
      expect(ready.body.checks.cache.status).toBe('up');
      const metrics = await request(other.app).get('/metrics');
      expect(metrics.text).toMatch(/product_cache_hits_total\{[^}]*kind="detail"[^}]*\} [1-9]/);
      expect(metrics.text).toMatch(/product_cache_hits_total\{[^}]*kind="list"[^}]*\} [1-9]/);
    });
  });
});
