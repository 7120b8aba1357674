import { ConfigError } from '@ecom/common';
import { MemoryCache } from '../src/cache/cache';
import { canonicalJson } from '../src/cache/catalog-cache';
import { loadProductConfig } from '../src/config';
import { slugify } from '../src/domain/catalog';
import { centsToDecimal, decimalToCents } from '../src/domain/money';
import { becameLow, mergeLines } from '../src/domain/stock-rules';
import { escapeRegex } from '../src/store/catalog-store';

describe('money', () => {
  it.each([
    [19.99, 1999],
    [0.1, 10],
    [0.01, 1],
    [1, 100],
    [1.5, 150],
    [1.1, 110],
    [1000000, 100000000],
    [4.35, 435],
    [0.29, 29],
  ])('%p → %p cents exactly', (value, cents) => {
    expect(decimalToCents(value)).toBe(cents);
    expect(centsToDecimal(cents)).toBe(value);
  });

  it.each([1.999, 0.001, 0.1 + 0.2, NaN, Infinity, -1, 1e21, 1e-7])('refuses %p', (value) => {
    expect(decimalToCents(value)).toBeUndefined();
  });
});

describe('stock rules', () => {
  it('alerts only when stock crosses under the threshold', () => {
    expect(
      becameLow({ available: 5, lowStockThreshold: 5 }, { available: 4, lowStockThreshold: 5 }),
    ).toBe(true);
    expect(
      becameLow({ available: 4, lowStockThreshold: 5 }, { available: 3, lowStockThreshold: 5 }),
    ).toBe(false);
    expect(
      becameLow({ available: 5, lowStockThreshold: 5 }, { available: 5, lowStockThreshold: 5 }),
    ).toBe(false);
    expect(
      becameLow({ available: 3, lowStockThreshold: 0 }, { available: 0, lowStockThreshold: 0 }),
    ).toBe(false);
    expect(
      becameLow({ available: 3, lowStockThreshold: 2 }, { available: 3, lowStockThreshold: 4 }),
    ).toBe(true);
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
  const base = { JWT_PUBLIC_KEY: 'pem' };

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
