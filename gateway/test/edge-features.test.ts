import { Redis } from 'ioredis';
import request from 'supertest';
import Joi from 'joi';
import { defineApi } from '@ecom/common/http';
import { SERVICE_APIS, apiDocument } from '../src/apis';
import { buildGateway } from '../src/app';
import { createRouteTable } from '../src/routes';
import { gatewayService, type RunningGateway } from '../src/service';
import { customer, logger, rawHttp, sendInPieces, testConfig, tokenFor, useStubs } from './helpers';

const stubs = useStubs();
let gw: RunningGateway;
const auth = `Bearer ${tokenFor(customer)}`;

beforeAll(async () => {
  gw = await gatewayService.start({
    config: testConfig(stubs, {
      BODY_LIMIT: '2kb',
      CORS_ORIGINS: 'https://shop.example.com, https://admin.example.com',
      AUDIT_RPC_ORIGINS: 'https://rpc.example.org, http://10.1.2.3:8545',
      HEALTH_TIMEOUT_MS: '1000',
      HEALTH_CACHE_MS: '0', // every call probes (the window has its own tests)
    }),
    logger,
  });
});

afterAll(async () => {
  await gw.stop();
});

/** Sends a body with Transfer-Encoding: chunked (no Content-Length), in pieces. */
const sendChunked = (path: string, pieces: string[]) =>
  sendInPieces(gw.url, {
    path,
    pieces,
    headers: { authorization: auth, 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
  });

describe('gatewayService.start', () => {
  it('listens on a free port and serves', async () => {
    expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${gw.url}/health/live`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', service: 'gateway' });
  });
});

describe('requests too malformed to route', () => {
  it('get the common error shape from the listening gateway, and nothing reaches a service', async () => {
    const { answer, closed } = await rawHttp(
      gw.url,
      'POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!).error.code).toBe('MALFORMED_REQUEST');
    expect(closed).toBe(true);
    expect(stubs.order.received).toHaveLength(0);
  });
});

describe('configuration', () => {
  it('TRUST_PROXY: a value Express could not compile stops the start with a line naming it', () => {
    for (const value of ['yes', 'TRUE', 'loopback, not-an-ip', '10.0.0.0/99']) {
      expect(() => testConfig(stubs, { TRUST_PROXY: value })).toThrow(
        /^Invalid configuration: TRUST_PROXY: /,
      );
    }
    for (const value of ['false', 'true', '2', 'loopback', 'loopback, 10.0.0.0/8', '::1']) {
      expect(testConfig(stubs, { TRUST_PROXY: value }).TRUST_PROXY).toBe(value);
    }
  });

  it('AUDIT_RPC_ORIGINS: the audit page may call these chain endpoints, and only origins are taken', async () => {
    const res = await request(gw.url).get('/audit/');
    expect(res.status).toBe(200); // built by npm install
    const connect = (res.headers['content-security-policy'] as string)
      .split('; ')
      .find((d) => d.startsWith('connect-src'))!;
    expect(connect).toContain(' https://rpc.example.org');
    expect(connect).toContain(' http://10.1.2.3:8545');
    for (const value of [
      'rpc.example.org',
      'https://rpc.example.org/path',
      'javascript:alert(1)',
    ]) {
      expect(() => testConfig(stubs, { AUDIT_RPC_ORIGINS: value })).toThrow(
        /^Invalid configuration: AUDIT_RPC_ORIGINS: /,
      );
    }
  });

  it('JWT_PUBLIC_KEY must be a key, not any string', () => {
    expect(() => testConfig(stubs, { JWT_PUBLIC_KEY: 'not-a-pem' })).toThrow(
      /^Invalid configuration: JWT_PUBLIC_KEY: /,
    );
  });
});

describe('streamed bodies without Content-Length', () => {
  it('under the limit: forwarded intact', async () => {
    const chunks = ['a'.repeat(500), 'b'.repeat(500), 'c'.repeat(500)];
    const res = await sendChunked('/api/orders', chunks);
    expect(res.status).toBe(200);
    const echoed = JSON.parse(res.body);
    expect(echoed.body).toBe(chunks.join(''));
    expect(echoed.headers['transfer-encoding']).toBe('chunked');
  });

  it('over the limit: 413 in the common shape, the upstream never gets a whole body', async () => {
    const chunks = Array.from({ length: 6 }, () => 'z'.repeat(600));
    const res = await sendChunked('/api/orders', chunks);
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body).error.code).toBe('PAYLOAD_TOO_LARGE');
    await new Promise((r) => setTimeout(r, 50));
    // The upstream request was aborted before the body was whole: the stub never handled it.
    expect(stubs.order.received.filter((r) => r.bodyBytes >= 3600)).toEqual([]);
  });
});

describe('CORS', () => {
  it('allows listed origins and exposes the gateway headers', async () => {
    const res = await request(gw.handler)
      .get('/api/products')
      .set('Origin', 'https://shop.example.com');
    expect(res.headers['access-control-allow-origin']).toBe('https://shop.example.com');
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-expose-headers']).toContain('RateLimit-Remaining');
    expect(res.headers.vary).toMatch(/Origin/);
  });

  it('gives other origins no CORS grant', async () => {
    const res = await request(gw.handler)
      .get('/api/products')
      .set('Origin', 'https://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers preflights itself, without a token and without touching a service', async () => {
    const res = await request(gw.handler)
      .options('/api/orders')
      .set('Origin', 'https://admin.example.com')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://admin.example.com');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toContain('authorization');
    expect(stubs.order.received).toHaveLength(0);
  });
});

describe('GET /health', () => {
  it('200 with every upstream up and its latency', async () => {
    stubs.auth.healthDelayMs = 120;
    const res = await request(gw.handler).get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.down).toEqual([]);
    expect(Object.keys(res.body.upstreams).sort()).toEqual([
      'auth',
      'comments',
      'notification',
      'order',
      'payment',
      'product',
    ]);
    for (const u of Object.values(res.body.upstreams) as Array<Record<string, unknown>>) {
      expect(u).toMatchObject({ status: 'up', httpStatus: 200, circuit: 'closed' });
      expect(typeof u.latencyMs).toBe('number');
    }
    // Measured, not made up: the slow one shows its wait.
    expect(res.body.upstreams.auth.latencyMs).toBeGreaterThanOrEqual(115);
    expect(res.body.upstreams.auth.latencyMs).toBeLessThan(1000);
  });

  it('503 naming the upstreams that are down, unready or too slow', async () => {
    stubs.payment.unhealthy = true;
    stubs.product.healthDelayMs = 3000; // HEALTH_TIMEOUT_MS is 1000
    await stubs.comments.close();
    try {
      const res = await request(gw.handler).get('/health');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('degraded');
      expect(res.body.down.sort()).toEqual(['comments', 'payment', 'product']);
      expect(res.body.upstreams.payment).toMatchObject({ status: 'down', httpStatus: 503 });
      expect(res.body.upstreams.product).toMatchObject({
        status: 'down',
        error: 'no answer within 1000 ms',
      });
      expect(res.body.upstreams.product.latencyMs).toBeGreaterThanOrEqual(990);
      expect(res.body.upstreams.comments.status).toBe('down');
      expect(res.body.upstreams.comments.error).toBe('unreachable (ECONNREFUSED)');
      expect(res.body.upstreams.auth.status).toBe('up');
    } finally {
      await stubs.comments.restart();
    }
  });

  it('one probe of the services serves every call within HEALTH_CACHE_MS (and every call while it runs)', async () => {
    const cached = buildGateway({
      // A cache long enough for the burst and the call after it on a busy machine.
      config: testConfig(stubs, { HEALTH_CACHE_MS: '3000', HEALTH_TIMEOUT_MS: '1000' }),
      logger,
    });
    try {
      stubs.order.healthDelayMs = 100;
      const burst = await Promise.all(
        Array.from({ length: 8 }, () => request(cached.handler).get('/health')),
      );
      expect(burst.map((r) => r.status)).toEqual(Array(8).fill(200));
      const again = await request(cached.handler).get('/health');
      expect(again.body.upstreams.order.latencyMs).toBe(burst[0]!.body.upstreams.order.latencyMs);
      for (const stub of Object.values(stubs)) expect(stub.healthProbes).toBe(1);

      stubs.payment.unhealthy = true;
      await new Promise((r) => setTimeout(r, 3100));
      const later = await request(cached.handler).get('/health');
      expect(later.status).toBe(503);
      expect(later.body.down).toEqual(['payment']);
      for (const stub of Object.values(stubs)) expect(stub.healthProbes).toBe(2);
    } finally {
      await cached.close();
    }
  });

  it('names no internal address to the public in production; the metrics token shows them', async () => {
    const token = 'metrics-token-for-tests-0123456789';
    const production = buildGateway({
      config: testConfig(stubs, { NODE_ENV: 'production', METRICS_TOKEN: token }),
      logger,
    });
    const addresses = Object.values(stubs).map((stub) => new URL(stub.url).host);
    try {
      const anyone = await request(production.handler).get('/health');
      expect(anyone.status).toBe(200);
      expect(anyone.body.upstreams.order).toMatchObject({ status: 'up', healthyReplicas: 1 });
      expect(anyone.body.upstreams.order.replicas[0]).toMatchObject({ status: 'up' });
      expect(anyone.body.upstreams.order.replicas[0].url).toBeUndefined();
      for (const host of addresses) expect(anyone.text).not.toContain(host);
      for (const header of [`Bearer ${token}x`, `Basic ${token}`]) {
        const wrong = await request(production.handler).get('/health').set('Authorization', header);
        for (const host of addresses) expect(wrong.text).not.toContain(host);
      }
      const operator = await request(production.handler)
        .get('/health')
        .set('Authorization', `bearer ${token}`);
      expect(operator.body.upstreams.order.replicas[0].url).toBe(stubs.order.url);
      // Outside production, as /metrics, the detail is open.
      const dev = await request(gw.handler).get('/health');
      expect(dev.body.upstreams.order.replicas[0].url).toBe(stubs.order.url);
    } finally {
      await production.close();
    }
  });

  it('answers its own paths asked with another method 405 with Allow, in the common shape', async () => {
    for (const [method, path] of [
      ['post', '/health'],
      ['delete', '/health/ready'],
      ['put', '/docs/openapi.json'],
      ['post', '/metrics'],
    ] as const) {
      const res = await request(gw.handler)[method](path);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.body.error.code).toBe('METHOD_NOT_ALLOWED');
    }
    expect((await request(gw.handler).post('/health/nothing')).status).toBe(404);
  });

  it("shows the public that its own Redis is down, not the driver's words (they may name hosts)", async () => {
    const token = 'metrics-token-for-tests-0123456789';
    // Nothing listens on port 1: every command fails at once.
    const redis = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    const production = buildGateway({
      config: testConfig(stubs, { NODE_ENV: 'production', METRICS_TOKEN: token }),
      logger,
      redis,
    });
    try {
      const anyone = await request(production.handler).get('/health/ready');
      // The gateway routes without Redis: degraded, not taken out of rotation.
      expect(anyone.status).toBe(200);
      expect(anyone.body.status).toBe('degraded');
      expect(anyone.body.checks.redis).toMatchObject({ status: 'down', error: 'unavailable' });
      const operator = await request(production.handler)
        .get('/health/ready')
        .set('Authorization', `Bearer ${token}`);
      expect(operator.body.checks.redis.status).toBe('down');
      expect(operator.body.checks.redis.error).not.toBe('unavailable');
    } finally {
      await production.close();
      redis.disconnect();
    }
  });

  it('/health/ready reflects only the gateway itself', async () => {
    stubs.payment.unhealthy = true;
    const res = await request(gw.handler).get('/health/ready');
    expect(res.status).toBe(200);
  });
});

describe('/metrics', () => {
  it('exposes per-upstream request counters in Prometheus format', async () => {
    await request(gw.handler).get('/api/products/p1');
    await request(gw.handler).get('/api/orders').set('Authorization', auth);
    const res = await request(gw.handler).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/gateway_requests_total\{[^}]*upstream="product"[^}]*status="200"/);
    expect(res.text).toMatch(/gateway_requests_total\{[^}]*upstream="order"/);
    expect(res.text).toContain('gateway_circuit_open');
  });
  it('is not public in production: absent without METRICS_TOKEN, behind it with one', async () => {
    const closed = buildGateway({ config: testConfig(stubs, { NODE_ENV: 'production' }), logger });
    const token = 'metrics-token-for-tests-0123456789';
    const guarded = buildGateway({
      config: testConfig(stubs, { NODE_ENV: 'production', METRICS_TOKEN: token }),
      logger,
    });
    try {
      const absent = await request(closed.handler).get('/metrics');
      expect(absent.status).toBe(404);
      // Not even a 405 to another method: nothing says it exists.
      const posted = await request(closed.handler).post('/metrics');
      expect(posted.status).toBe(404);
      expect(posted.headers.allow).toBeUndefined();
      expect(absent.body.error.code).toBe('NOT_FOUND');
      expect(absent.text).not.toContain('gateway_requests_total');
      for (const header of [
        undefined,
        'Bearer wrong-token',
        `Basic ${token}`,
        `Bearer ${token}x`,
        token,
        '',
      ]) {
        const req = request(guarded.handler).get('/metrics');
        const res = await (header ? req.set('Authorization', header) : req);
        expect(res.status).toBe(401);
        expect(res.text).not.toContain('gateway_requests_total');
      }
      // The scheme in any letter case (RFC 9110 §11.1), as the services' bearer tokens.
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const ok = await request(guarded.handler)
          .get('/metrics')
          .set('Authorization', `${scheme} ${token}`);
        expect(ok.status).toBe(200);
        expect(ok.text).toContain('gateway_requests_total');
      }
    } finally {
      await Promise.all([closed.close(), guarded.close()]);
    }
  });
});

describe('API docs', () => {
  it('serves an OpenAPI 3 document of the public API', async () => {
    const res = await request(gw.handler).get('/docs/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    for (const path of [
      '/api/auth/login',
      '/api/products/{id}',
      '/api/comments/product/{productId}',
      '/api/orders',
      '/api/payments/initiate',
      '/api/blockchain/verify/{transactionHash}',
      '/health',
    ]) {
      expect(res.body.paths[path]).toBeDefined();
    }
  });

  it("is assembled from the services' own specs: their schemas, their access rules", () => {
    type Op = {
      security: unknown[];
      responses: Record<
        string,
        { content?: { 'application/json': { schema: { required?: string[] } } } }
      >;
    };
    const doc = apiDocument(SERVICE_APIS) as { paths: Record<string, Record<string, Op>> };
    let checked = 0;
    const routes = createRouteTable(SERVICE_APIS);
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/')) continue;
      const concrete = path.replace(/\{[^}]+\}/g, 'x1');
      for (const [method, op] of Object.entries(ops)) {
        // What /docs says is public is exactly what the edge lets through without a token.
        const publicInDocs =
          op.security.length === 0 ||
          op.security.some((s) => Object.keys(s as object).length === 0);
        expect({ path, method, public: publicInDocs }).toEqual({
          path,
          method,
          public: routes.isPublic(method.toUpperCase(), concrete),
        });
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(30);
    // Lists in the one envelope.
    const list =
      doc.paths['/api/orders']!.get!.responses['200']!.content!['application/json'].schema;
    expect(list.required).toEqual(['items', 'page', 'limit', 'total', 'totalPages']);
  });

  it('routes, guards and documents a route a service adds, with no gateway edit', async () => {
    const product = SERVICE_APIS.find((api) => api.service === 'product')!;
    const extended = defineApi({
      ...product,
      operations: {
        ...product.operations,
        productBrochure: {
          method: 'get',
          path: '/api/products/:id/brochure',
          summary: 'A new public route',
          access: 'public',
          params: Joi.object({ id: Joi.string().required() }),
          response: { status: 200, description: 'Brochure', schema: Joi.object() },
        },
        productAudit: {
          method: 'get',
          path: '/api/products/:id/audit',
          summary: 'A new admin route',
          access: ['admin'],
          params: Joi.object({ id: Joi.string().required() }),
          response: { status: 200, description: 'Audit', schema: Joi.object() },
        },
      },
    });
    const apis = SERVICE_APIS.map((api) => (api.service === 'product' ? extended : api));
    const extendedGateway = buildGateway({ config: testConfig(stubs), logger, apis });
    try {
      // Public without a token: proxied to product (the stub answers).
      const brochure = await request(extendedGateway.handler).get('/api/products/p1/brochure');
      expect(brochure.status).not.toBe(401);
      expect(stubs.product.received.at(-1)?.path).toBe('/api/products/p1/brochure');
      // Admin route: the edge wants a token.
      expect((await request(extendedGateway.handler).get('/api/products/p1/audit')).status).toBe(
        401,
      );
      const docs = await request(extendedGateway.handler).get('/docs/openapi.json');
      expect(docs.body.paths['/api/products/{id}/brochure'].get.security).toEqual([]);
      expect(docs.body.paths['/api/products/{id}/audit'].get['x-roles']).toEqual(['admin']);
    } finally {
      await extendedGateway.close();
    }
  });

  it('serves a browsable page and its script under the default CSP', async () => {
    const page = await request(gw.handler).get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<script src="/docs/docs.js">');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const script = await request(gw.handler).get('/docs/docs.js');
    expect(script.status).toBe(200);
    expect(script.text).toContain("fetch('/docs/openapi.json')");
  });
});
