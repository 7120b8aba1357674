import { ConfigError } from '@ecom/common/config';
import { createLogger } from '@ecom/common/logging';
import { testJwtEnv } from '@ecom/test-support';
import { Registry } from 'prom-client';
import { loadProductConfig } from '../src/config';
import { slugify } from '../src/domain/catalog-rules';
import { becameLow, mergeLines } from '../src/domain/stock-rules';
import { createProductBody, listProductsQuery } from '../src/http/api';
import { escapeRegex } from '../src/store/catalog-store';
import type { Cache } from '../src/store/cache/cache';
import { CatalogCache, canonicalJson } from '../src/store/cache/catalog-cache';
import { MemoryCache } from '../src/store/cache/memory-cache';

describe('decimal prices in requests', () => {
  const body = (price: unknown) => ({ name: 'x', price, inventory: 1 });

  it.each([19.99, 0.1, 0.01, 1, 1.5, 1.1, 1000000, 4.35, 0.29])('accepts %p', (price) => {
    expect(createProductBody.validate(body(price)).error).toBeUndefined();
  });

  it.each([1.999, 0.001, 0.1 + 0.2, NaN, Infinity, -1, 0, 1e21, 1e-7, 1000000.01])(
    'refuses %p',
    (price) => {
      expect(createProductBody.validate(body(price)).error).toBeDefined();
    },
  );

  it('bounds price filters the same way', () => {
    expect(listProductsQuery.validate({ minPrice: 0, maxPrice: 19.99 }).error).toBeUndefined();
    expect(listProductsQuery.validate({ maxPrice: 1.234 }).error?.message).toMatch(
      /at most 2 decimal places/,
    );
  });

  it('names only what is wrong with a price: a negative or huge one by its bound, not its decimals', () => {
    const messages = (price: number) =>
      (createProductBody.validate(body(price), { abortEarly: false }).error?.details ?? []).map(
        (d) => d.message,
      );
    expect(messages(-1)).toEqual(['"price" must be greater than 0']);
    expect(messages(-1.999)).toEqual(['"price" must be greater than 0']);
    expect(messages(1e12 + 0.5)).toEqual([
      expect.stringMatching(/^"price" must be less than or equal to/),
    ]);
    expect(messages(1.999)).toEqual(['"price" must have at most 2 decimal places']);
  });
});

describe('stock rules', () => {
  const stock = (available: number, lowStockThreshold: number) => ({
    available,
    lowStockThreshold,
  });
  it.each([
    [stock(5, 5), stock(4, 5), true],
    [stock(4, 5), stock(3, 5), false],
    [stock(5, 5), stock(5, 5), false],
    [stock(3, 0), stock(0, 0), false],
    [stock(3, 2), stock(3, 4), true],
  ])('alerts only when stock crosses under the threshold (%o → %o: %s)', (before, after, low) => {
    expect(becameLow(before, after)).toBe(low);
  });

  it('merges lines of one product, keeping first-seen order', () => {
    expect(
      mergeLines([
        { productId: 'b', quantity: 1 },
        { productId: 'a', quantity: 2 },
        { productId: 'b', quantity: 3 },
      ]),
    ).toEqual([
      { productId: 'b', quantity: 4 },
      { productId: 'a', quantity: 2 },
    ]);
  });

  it('merges two spellings of one product id into one line (no line passes as already held)', () => {
    expect(
      mergeLines([
        { productId: '665f1c2b9a1e4d3c2b1a0f9e', quantity: 2 },
        { productId: '665F1C2B9A1E4D3C2B1A0F9E', quantity: 2 },
      ]),
    ).toEqual([{ productId: '665f1c2b9a1e4d3c2b1a0f9e', quantity: 4 }]);
  });
});

describe('helpers', () => {
  it('slugifies names', () => {
    expect(slugify('Home & Garden')).toBe('home-garden');
    expect(slugify('  Crème Brûlée! ')).toBe('creme-brulee');
    expect(slugify('$$$')).toBe('');
  });

  it('escapes every regex metacharacter', () => {
    const hostile = '.*+?^${}()|[]\\/-';
    const re = new RegExp(escapeRegex(hostile), 'i');
    expect(re.test(hostile)).toBe(true);
    expect(re.test('anything else')).toBe(false);
  });

  it('hashes equal queries equally whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe(
      canonicalJson({ a: [1, { d: 2 }], b: 1 }),
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
  });
});

describe('MemoryCache', () => {
  it('expires entries, evicts the least recently used and bumps generations', async () => {
    let now = 1_000_000;
    const cache = new MemoryCache(2, () => now);
    await cache.set('a', '1', 10);
    await cache.set('b', '2', 10);
    await cache.get('a');
    await cache.set('c', '3', 10);
    expect(await cache.get('b')).toBeNull();
    expect(await cache.get('a')).toBe('1');
    now += 10_001;
    expect(await cache.get('a')).toBeNull();
    const g = Number(await cache.generation('g'));
    expect(g).toBe(now * 1000);
    await cache.bump('g');
    expect(await cache.generations(['g'])).toEqual([String(g + 1)]);
  });
});

describe('config', () => {
  const base = { JWT_PUBLIC_KEY: testJwtEnv.JWT_PUBLIC_KEY };

  it('defaults to port 3002, product_db and a memory cache without REDIS_URL', () => {
    const config = loadProductConfig(base);
    expect(config).toMatchObject({
      PORT: 3002,
      CACHE_DRIVER: 'memory',
      CACHE_TTL_SECONDS: 60,
      DEFAULT_CURRENCY: 'USD',
    });
    expect(config.MONGO_URL).toMatch(/\/product_db$/);
  });

  it('uses Redis for the cache when REDIS_URL is set', () => {
    expect(loadProductConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).CACHE_DRIVER).toBe(
      'redis',
    );
  });

  it('names the bad variable', () => {
    expect(() => loadProductConfig({ ...base, PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadProductConfig({ ...base, PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadProductConfig({ ...base, CACHE_DRIVER: 'redis' })).toThrow(/REDIS_URL/);
    expect(() => loadProductConfig({})).toThrow(/JWT_PUBLIC_KEY/);
  });
});

describe('CatalogCache when the cache is unreachable', () => {
  // A cache whose every call fails, as Redis does while it is down.
  const down: Cache = {
    kind: 'redis',
    get: () => Promise.reject(new Error('down')),
    set: () => Promise.reject(new Error('down')),
    getWithGenerations: () => Promise.reject(new Error('down')),
    bump: () => Promise.reject(new Error('down')),
    ping: () => Promise.reject(new Error('down')),
    close: () => Promise.resolve(),
  };

  const catalogCache = (store: Cache, registry: Registry) =>
    new CatalogCache(store, {
      prefix: 'p:',
      ttlSeconds: 5,
      registry,
      logger: createLogger('test', 'silent'),
    });

  it('serves reads from the store, never fails a write, and counts the errors', async () => {
    const registry = new Registry();
    const cache = catalogCache(down, registry);
    let loads = 0;
    const read = () => cache.readProduct('id1', async () => ({ n: ++loads }));
    expect(await read()).toEqual({ value: { n: 1 }, status: 'MISS' });
    expect(await read()).toEqual({ value: { n: 2 }, status: 'MISS' });
    await expect(cache.productChanged('id1')).resolves.toBeUndefined();
    const text = await registry.metrics();
    expect(text).toMatch(/product_cache_errors_total\{op="read"\} 2/);
    expect(text).toMatch(/product_cache_errors_total\{op="invalidate"\} 1/);
  });

  it('stores a value loaded after a write under the new generation only', async () => {
    const cache = catalogCache(new MemoryCache(), new Registry());
    let price = 100;
    // A reader loads the old price; the write (and its invalidation) lands before the reader stores it.
    const slowRead = cache.readProduct('id1', async () => {
      const seen = price;
      price = 200;
      await cache.productChanged('id1');
      return { price: seen };
    });
    expect((await slowRead).value).toEqual({ price: 100 });
    // The next reader must not get the stale 100 from the cache.
    const next = await cache.readProduct('id1', async () => ({ price }));
    expect(next).toEqual({ value: { price: 200 }, status: 'MISS' });
    expect((await cache.readProduct('id1', async () => ({ price: -1 }))).value).toEqual({
      price: 200,
    });
  });
});
