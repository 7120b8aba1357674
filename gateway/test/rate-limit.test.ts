import net from 'node:net';
import request from 'supertest';
import { Redis } from 'ioredis';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { buildGateway, type Gateway } from '../src/app';
import { clientKey } from '../src/client-ip';
import { createGatewayRedis, gatewayService } from '../src/service';
import { customer, logger, seller, testConfig, tokenFor, uniquePrefix, useStubs } from './helpers';

const stubs = useStubs();

const limits = {
  RATE_LIMIT_POINTS: '3',
  RATE_LIMIT_AUTH_POINTS: '2',
  RATE_LIMIT_PAYMENT_POINTS: '2',
  RATE_LIMIT_WEBHOOK_POINTS: '2',
  TRUST_PROXY: 'loopback',
};

describe('clientKey', () => {
  it('keeps IPv4 addresses whole and unmaps IPv4-mapped IPv6', () => {
    expect(clientKey('203.0.113.7')).toBe('ip:203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
  });

  it('groups IPv6 addresses by /64, whatever their spelling', () => {
    const a = clientKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    expect(a).toBe('ip6:2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002::1')).toBe(a);
    expect(clientKey('2001:db8:1:2::ffff:1.2.3.4')).toBe(a);
    expect(clientKey('2001:db8:1:3::1')).not.toBe(a);
    expect(clientKey('::1')).toBe('ip6:0:0:0:0::/64');
    expect(clientKey('fe80::1%eth0')).toBe('ip6:fe80:0:0:0::/64');
  });
});

describe('rate limits in memory (no REDIS_URL)', () => {
  let gateway: Gateway;
  beforeEach(() => {
    gateway = buildGateway({ config: testConfig(stubs, limits), logger });
  });
  afterEach(() => gateway.close());

  it('counts down in RateLimit-* headers, then answers 429 with Retry-After', async () => {
    const token = `Bearer ${tokenFor(customer)}`;
    const before = stubs.order.received.length;
    for (const remaining of [2, 1, 0]) {
      const res = await request(gateway.handler).get('/api/orders').set('Authorization', token);
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBe('3');
      expect(res.headers['ratelimit-remaining']).toBe(String(remaining));
      expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(0);
    }
    const limited = await request(gateway.handler).get('/api/orders').set('Authorization', token);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({
      code: 'RATE_LIMITED',
      details: { bucket: 'default' },
    });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(stubs.order.received.length - before).toBe(3);
  });

  it('budgets are per user when authenticated, per IP otherwise', async () => {
    const a = `Bearer ${tokenFor(customer)}`;
    const b = `Bearer ${tokenFor(seller)}`;
    for (let i = 0; i < 3; i += 1) {
      expect(
        (await request(gateway.handler).get('/api/orders').set('Authorization', a)).status,
      ).toBe(200);
    }
    expect((await request(gateway.handler).get('/api/orders').set('Authorization', a)).status).toBe(
      429,
    );
    expect((await request(gateway.handler).get('/api/orders').set('Authorization', b)).status).toBe(
      200,
    );
    // Anonymous requests from this address have a budget of their own.
    expect((await request(gateway.handler).get('/api/products')).status).toBe(200);
  });

  it('IPv6 clients in one /64 share a budget; another /64 does not', async () => {
    const get = (ip: string) =>
      request(gateway.handler).get('/api/products').set('X-Forwarded-For', ip);
    expect((await get('2001:db8:aa:1::1')).status).toBe(200);
    expect((await get('2001:db8:aa:1::2')).status).toBe(200);
    expect((await get('2001:db8:aa:1:ffff::3')).status).toBe(200);
    const fourth = await get('2001:db8:aa:1::4');
    expect(fourth.status).toBe(429);
    expect((await get('2001:db8:aa:2::1')).status).toBe(200);
  });

  it('login and register share a stricter per-IP budget', async () => {
    const post = (path: string) =>
      request(gateway.handler).post(path).set('X-Forwarded-For', '198.51.100.20').send({});
    expect((await post('/api/auth/login')).status).toBe(200);
    const second = await post('/api/auth/register');
    expect(second.status).toBe(200);
    expect(second.headers['ratelimit-limit']).toBe('2');
    const third = await post('/api/auth/login');
    expect(third.status).toBe(429);
    expect(third.body.error.details.bucket).toBe('auth');
    // The default budget of the same address is untouched.
    const browse = await request(gateway.handler)
      .get('/api/products')
      .set('X-Forwarded-For', '198.51.100.20');
    expect(browse.status).toBe(200);
    expect(browse.headers['ratelimit-limit']).toBe('3');
  });

  it('the sign-in budget is per address even with a token, and counts every spelling of the path', async () => {
    // Two users, one address, and paths the auth service routes to its login and register
    // handlers (Express ignores case and a trailing slash; http-proxy collapses '//').
    const tokens = [tokenFor(customer), tokenFor(seller)].map((t) => `Bearer ${t}`);
    const attempts = ['/api/auth/Login', '/api/auth//register', '/api/auth/LOGIN/'];
    const statuses = [];
    for (const [i, path] of attempts.entries()) {
      const res = await request(gateway.handler)
        .post(path)
        .set('X-Forwarded-For', '198.51.100.30')
        .set('Authorization', tokens[i % 2]!)
        .send({});
      statuses.push([res.status, res.headers['ratelimit-limit']]);
    }
    expect(statuses).toEqual([
      [200, '2'],
      [200, '2'],
      [429, '2'],
    ]);
  });

  it('refusals are counted in /metrics by bucket', async () => {
    for (let i = 0; i < 5; i += 1) {
      await request(gateway.handler).get('/api/products').set('X-Forwarded-For', '192.0.2.77');
    }
    const metrics = await request(gateway.handler).get('/metrics');
    expect(metrics.text).toMatch(
      /gateway_rate_limited_total\{bucket="default",service="gateway"\} 2\b/,
    );
  });

  it('payments have a stricter per-user budget', async () => {
    const token = `Bearer ${tokenFor({ id: 'payer-1', role: 'customer' })}`;
    const pay = () =>
      request(gateway.handler).post('/api/payments/initiate').set('Authorization', token).send({});
    expect((await pay()).status).toBe(200);
    expect((await pay()).status).toBe(200);
    const third = await pay();
    expect(third.status).toBe(429);
    expect(third.body.error.details.bucket).toBe('payment');
    expect(
      (await request(gateway.handler).get('/api/orders').set('Authorization', token)).status,
    ).toBe(200);
  });

  it('provider webhooks: public, their own per-address budget, apart from the payment one', async () => {
    const hook = () =>
      request(gateway.handler)
        .post('/api/payments/webhooks')
        .set('Provider-Signature', 't=1,v1=00')
        .send({ id: 'evt_1' });
    expect((await hook()).status).toBe(200); // no token needed at the edge
    expect((await hook()).status).toBe(200);
    const third = await hook();
    expect(third.status).toBe(429);
    expect(third.body.error.details.bucket).toBe('webhook');
    const token = `Bearer ${tokenFor({ id: 'payer-2', role: 'customer' })}`;
    expect(
      (
        await request(gateway.handler)
          .post('/api/payments/initiate')
          .set('Authorization', token)
          .send({})
      ).status,
    ).toBe(200);
  });

  it('401s count against the per-IP budget too (token guessing is limited)', async () => {
    const bad = () =>
      request(gateway.handler)
        .get('/api/orders')
        .set('X-Forwarded-For', '198.51.100.99')
        .set('Authorization', 'Bearer a.b.c');
    for (let i = 0; i < 3; i += 1) expect((await bad()).status).toBe(401);
    expect((await bad()).status).toBe(429);
  });

  it('RATE_LIMIT_ENABLED=false turns limits off', async () => {
    const open = buildGateway({
      config: testConfig(stubs, { ...limits, RATE_LIMIT_ENABLED: 'false' }),
      logger,
    });
    for (let i = 0; i < 5; i += 1) {
      const res = await request(open.handler).get('/api/products');
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    await open.close();
  });
});

describe('TRUST_PROXY=false (the gateway is the edge)', () => {
  it('X-Forwarded-For is ignored: a client cannot mint itself new budgets', async () => {
    const edge = buildGateway({
      config: testConfig(stubs, { ...limits, TRUST_PROXY: 'false' }),
      logger,
    });
    try {
      const statuses = [];
      for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) {
        statuses.push(
          (await request(edge.handler).get('/api/products').set('X-Forwarded-For', ip)).status,
        );
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await edge.close();
    }
  });
});

describe('Redis unreachable', () => {
  it('the in-memory insurance limiter keeps limiting', async () => {
    // A short disconnectTimeout: ioredis otherwise keeps a 2 s timer for the failed socket.
    const redis = createGatewayRedis('redis://127.0.0.1:1', logger, 250, { disconnectTimeout: 20 });
    redis.on('error', () => undefined);
    const gateway = buildGateway({ config: testConfig(stubs, limits), logger, redis });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push(
        (await request(gateway.handler).get('/api/products').set('X-Forwarded-For', '192.0.2.5'))
          .status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    await gateway.close();
    redis.disconnect();
  });
});

describeIfServer('redis', 'rate limits shared through Redis', (redisUrl) => {
  let redisA: Redis;
  let redisB: Redis;
  let gatewayA: Gateway;
  let gatewayB: Gateway;
  const prefix = uniquePrefix('rl');

  beforeAll(async () => {
    redisA = createGatewayRedis(redisUrl, logger, 1000);
    redisB = createGatewayRedis(redisUrl, logger, 1000);
    await Promise.all([redisA.ping().catch(() => undefined), redisB.ping().catch(() => undefined)]);
    await new Promise((r) => setTimeout(r, 50));
    const config = testConfig(stubs, {
      ...limits,
      RATE_LIMIT_POINTS: '4',
      REDIS_URL: redisUrl,
      GATEWAY_KEY_PREFIX: prefix,
    });
    gatewayA = buildGateway({ config, logger, redis: redisA });
    gatewayB = buildGateway({ config, logger, redis: redisB });
  });

  afterAll(async () => {
    await gatewayA.close();
    await gatewayB.close();
    const keys = await redisA.keys(`${prefix}*`);
    if (keys.length) await redisA.del(...keys);
    await redisA.quit();
    await redisB.quit();
  });

  it('two gateway instances share one budget per user', async () => {
    expect(gatewayA.rateLimiter?.backend).toBe('redis');
    const token = `Bearer ${tokenFor({ id: 'shared-user', role: 'customer' })}`;
    const seen: Array<[number, string]> = [];
    for (const gw of [gatewayA, gatewayB, gatewayA, gatewayB, gatewayA, gatewayB]) {
      const res = await request(gw.handler).get('/api/orders').set('Authorization', token);
      seen.push([res.status, res.headers['ratelimit-remaining'] as string]);
    }
    expect(seen).toEqual([
      [200, '3'],
      [200, '2'],
      [200, '1'],
      [200, '0'],
      [429, '0'],
      [429, '0'],
    ]);
    const stored = await redisA.keys(`${prefix}:rl:default*shared-user`);
    expect(stored).toHaveLength(1);
  });
});

/** A TCP relay to Redis that can stop relaying while keeping the connections open. */
async function stallableRelay(redisUrl: string) {
  const target = new URL(redisUrl);
  let stalled = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (d) => stalled || upstream.write(d));
    upstream.on('data', (d) => stalled || client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stall: () => (stalled = true),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describeIfServer('redis', 'a Redis that stops answering', (redisUrl) => {
  it('decisions fall back to memory after REDIS_COMMAND_TIMEOUT_MS: requests are not held', async () => {
    const relay = await stallableRelay(redisUrl);
    const gw = await gatewayService.start({
      config: testConfig(stubs, {
        ...limits,
        REDIS_URL: relay.url,
        // Long enough for a healthy answer on a busy machine (the first decision must be
        // Redis's); the stalled ones then fall back after it.
        REDIS_COMMAND_TIMEOUT_MS: '1000',
        GATEWAY_KEY_PREFIX: uniquePrefix('stall'),
      }),
      logger,
    });
    try {
      const get = () =>
        fetch(`${gw.url}/api/products`, {
          headers: { 'x-forwarded-for': '192.0.2.88' },
          signal: AbortSignal.timeout(10_000),
        });
      expect((await get()).headers.get('ratelimit-remaining')).toBe('2'); // decided in Redis
      relay.stall();
      // Not held: each is answered (a request held on the stalled Redis fails at its abort).
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await get()).status);
      // The insurance limiter has its own fresh budget of 3 for this address.
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await gw.stop();
      await relay.close();
    }
  });
});
