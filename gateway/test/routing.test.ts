import request from 'supertest';
import { buildGateway, type Gateway } from '../src/app';
import { hasDotSegment } from '../src/routes';
import {
  customer,
  logger,
  rawHttp,
  serve,
  testConfig,
  tokenFor,
  useStubs,
  type EchoRequest,
  type Stubs,
} from './helpers';

const stubs = useStubs();
let gateway: Gateway;
const auth = `Bearer ${tokenFor(customer)}`;

beforeAll(async () => {
  gateway = buildGateway({ config: testConfig(stubs, { BODY_LIMIT: '1kb' }), logger });
});

afterAll(async () => {
  await gateway.close();
});

const lastReceived = (name: keyof Stubs): EchoRequest => {
  const list = stubs[name].received;
  expect(list.length).toBeGreaterThan(0);
  return list[list.length - 1]!;
};

/** `body` as `contentType`, with the customer's token. */
const sendBody = (method: 'post' | 'put', path: string, contentType: string, body: string) =>
  request(gateway.handler)
    [method](path)
    .set('Authorization', auth)
    .set('Content-Type', contentType)
    .send(body);
/** GET /api/orders/o1 with the customer's token and `headers`: the order stub echoes it. */
const getOrderWith = (headers: Record<string, string>) =>
  request(gateway.handler).get('/api/orders/o1').set('Authorization', auth).set(headers);

describe('routing', () => {
  it.each([
    ['/api/auth/profile', 'auth'],
    ['/api/users/profile', 'auth'],
    ['/api/products/p1', 'product'],
    ['/api/comments/c1', 'comments'],
    ['/api/payments/pay1', 'payment'],
    ['/api/orders/o1', 'order'],
    ['/api/blockchain/order/o1', 'order'],
    ['/api/blockchain/payment/pay1', 'payment'],
    ['/api/blockchain/verify/0xabc', 'payment'],
  ] as const)('%s goes to %s with its path unchanged', async (path, upstream) => {
    const res = await request(gateway.handler).put(path).set('Authorization', auth).send({ a: 1 });
    expect(res.status).toBe(200);
    expect(res.body.upstream).toBe(upstream);
    expect(res.body.path).toBe(path);
    for (const [name, stub] of Object.entries(stubs)) {
      expect(stub.received.length).toBe(name === upstream ? 1 : 0);
    }
  });

  it('the bare prefix routes too, but a longer word does not', async () => {
    const ok = await request(gateway.handler).get('/api/orders').set('Authorization', auth);
    expect(ok.body.upstream).toBe('order');
    const miss = await request(gateway.handler).get('/api/ordersX').set('Authorization', auth);
    expect(miss.status).toBe(404);
    expect(miss.body.error.code).toBe('NOT_FOUND');
    expect(stubs.order.received.length).toBe(1);
  });

  it('unknown paths answer 404 in the common shape with the request id', async () => {
    const res = await request(gateway.handler).get('/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
  });

  it('refuses dot segments instead of letting them reach a service', async () => {
    const res = await request(gateway.handler).get('/api/products/../orders/1');
    // supertest/superagent may normalise, so also send the encoded form.
    const encoded = await request(gateway.handler).get('/api/products/%2e%2e/orders/1');
    for (const r of [res, encoded]) {
      expect([400, 404]).toContain(r.status);
      expect(r.body.error.code).toBeDefined();
    }
    expect(encoded.status).toBe(400);
    expect(encoded.body.error.code).toBe('INVALID_PATH');
    for (const path of ['/api/products/..%2forders/1', '/api/products/%2E%2E%5Corders/1']) {
      const r = await request(gateway.handler).get(path);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('INVALID_PATH');
    }
    expect(stubs.product.received.length + stubs.order.received.length).toBe(0);
  });

  it('refuses a raw "#" anywhere and a raw backslash in the path, before any service sees them', async () => {
    // A service's URL parser would cut the path at '#' (and read '\\' as '/'), so
    // `/api/auth/login#x` would reach login while the edge judged another path.
    const server = await serve(gateway.handler);
    try {
      for (const target of [
        '/api/auth/login#x',
        '/api/comments/moderation\\queue',
        '/api/products?q=a#b',
      ]) {
        const { answer } = await rawHttp(
          server.url,
          `GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nConnection: close\r\n\r\n`,
        );
        expect([target, answer.split('\r\n')[0]]).toEqual([target, 'HTTP/1.1 400 Bad Request']);
        expect(JSON.parse(answer.split('\r\n\r\n')[1]!).error.code).toBe('INVALID_PATH');
      }
      expect(stubs.auth.received.length + stubs.comments.received.length).toBe(0);
      expect(stubs.product.received).toHaveLength(0);
      // A backslash in the query string is data (browsers send it raw).
      const { answer } = await rawHttp(
        server.url,
        'GET /api/products?q=a\\b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      expect(stubs.product.received[0]?.url).toBe('/api/products?q=a\\b');
    } finally {
      await server.close();
    }
  });

  it('hasDotSegment: every spelling of a dot segment, and nothing else', () => {
    for (const path of [
      '/api/products/../orders',
      '/api/products/./x',
      '/api/products/..',
      '/api/products/%2e%2e/orders',
      '/api/products/.%2E/orders',
      '/api/products/..%2forders',
      '/api/products%2F..%2Forders',
      '/api/products/..\\orders',
      '/api/products%5c..%5corders',
    ]) {
      expect([path, hasDotSegment(path)]).toEqual([path, true]);
    }
    for (const path of [
      '/api/products/a..b',
      '/api/products/...',
      '/api/products/v1.2',
      '/api/products/.well',
    ]) {
      expect([path, hasDotSegment(path)]).toEqual([path, false]);
    }
  });
});

describe('bodies, query strings and headers reach the service intact', () => {
  it('forwards a JSON body byte for byte', async () => {
    const raw = '{"b":  [1,2,3],\n "a": "é✓", "nested": {"x": null}}';
    const res = await sendBody('post', '/api/orders', 'application/json', raw);
    expect(res.status).toBe(200);
    expect(res.body.body).toBe(raw);
    expect(res.body.headers['content-type']).toBe('application/json');
    expect(res.body.bodyBytes).toBe(Buffer.byteLength(raw));
  });

  it('forwards malformed JSON unparsed, so the service answers its own 400', async () => {
    const res = await sendBody('post', '/api/orders', 'application/json', '{"not json');
    expect(res.body.body).toBe('{"not json');
  });

  it('forwards non-JSON bodies untouched', async () => {
    const res = await sendBody('put', '/api/products/p1', 'text/plain', 'plain text body');
    expect(res.body.body).toBe('plain text body');
  });

  it('keeps the query string exactly, including repeated and encoded keys', async () => {
    const qs = 'q=red%20lamp&category=home&tags=a&tags=b&price%5B%24ne%5D=1';
    const res = await request(gateway.handler).get(`/api/products?${qs}`);
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(`/api/products?${qs}`);
  });

  it('forwards custom headers and Authorization as is', async () => {
    const res = await getOrderWith({
      'X-Custom-Thing': 'kept',
      'Idempotency-Key': 'idem-123',
      'Accept-Language': 'de',
    });
    const got = res.body.headers;
    expect(got.authorization).toBe(auth);
    expect(got['x-custom-thing']).toBe('kept');
    expect(got['idempotency-key']).toBe('idem-123');
    expect(got['accept-language']).toBe('de');
    expect(got['x-forwarded-for']).toBeDefined();
  });

  it('strips identity headers sent by clients', async () => {
    const res = await getOrderWith({
      'X-User-Id': 'admin-1',
      'X-User-Role': 'admin',
      'X-User-Email': 'root@example.com',
      'X-Auth-User': 'admin',
      'X-Auth-Roles': 'admin',
    });
    const got = res.body.headers;
    for (const name of [
      'x-user-id',
      'x-user-role',
      'x-user-email',
      'x-auth-user',
      'x-auth-roles',
    ]) {
      expect(got[name]).toBeUndefined();
    }
    expect(got.authorization).toBe(auth);
  });

  it('strips every spelling of an identity header (case, underscores, other conventions)', async () => {
    const res = await getOrderWith({
      X_User_Id: 'admin-1',
      'x-USER-roles': 'admin',
      'X-Forwarded-User': 'admin',
      'X-Remote-User': 'admin',
      'Remote-User': 'admin',
      'X-Authenticated-Userid': 'admin',
      'X-Forwarded-Groups': 'admins',
      'X-Forwarded-Access-Token': 'tok',
      'X-Username': 'admin',
      'X-User-Agent': 'kept-app/1.0',
    });
    const got = res.body.headers;
    expect(Object.keys(got).filter((n) => /user|groups|access-token/i.test(n))).toEqual([
      'x-user-agent',
    ]);
    expect(got['x-user-agent']).toBe('kept-app/1.0');
  });

  it('honours a client asking to close its connection, and keeps the upstream one', async () => {
    const server = await serve(gateway.handler);
    try {
      const { answer, closed } = await rawHttp(
        server.url,
        `GET /api/orders/o1 HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nConnection: close\r\n\r\n`,
        1500,
      );
      const head = answer.split('\r\n\r\n')[0]!;
      expect(head).toMatch(/^HTTP\/1\.1 200 /);
      expect(head).toMatch(/\r\nconnection: close(\r\n|$)/i);
      expect(head).not.toMatch(/\r\nkeep-alive:/i);
      expect(closed).toBe(true);
      // The gateway's own hop stays keep-alive: the client's wish is not forwarded.
      expect(lastReceived('order').headers.connection).toBe('keep-alive');
    } finally {
      await server.close();
    }
  });

  it('drops hop-by-hop headers sent by the client', async () => {
    const res = await getOrderWith({
      'Keep-Alive': 'timeout=999',
      TE: 'trailers',
      'Proxy-Connection': 'keep-alive',
    });
    const got = res.body.headers;
    expect(res.status).toBe(200);
    for (const name of ['keep-alive', 'te', 'proxy-connection']) {
      expect([name, got[name]]).toEqual([name, undefined]);
    }
  });

  it("TRUST_PROXY=false: the client's forwarding headers are replaced by the gateway's own", async () => {
    const res = await getOrderWith({
      'X-Forwarded-For': '6.6.6.6',
      'X-Forwarded-Host': 'evil.example',
      'X-Forwarded-Proto': 'https',
      Forwarded: 'for=6.6.6.6;proto=https',
    });
    const got = res.body.headers;
    expect(got['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(got['x-forwarded-host']).not.toBe('evil.example');
    expect(got['x-forwarded-proto']).toBe('http');
    expect(got.forwarded).toBeUndefined();
  });

  /** The forwarding headers the order stub received through a gateway with this TRUST_PROXY. */
  async function forwardedThrough(trustProxy: string, headers: Record<string, string>) {
    const gw = buildGateway({ config: testConfig(stubs, { TRUST_PROXY: trustProxy }), logger });
    try {
      const res = await request(gw.handler)
        .get('/api/orders/o1')
        .set('Authorization', auth)
        .set(headers);
      return res.body.headers as Record<string, string | undefined>;
    } finally {
      await gw.close();
    }
  }

  it('TRUST_PROXY naming other addresses: a peer outside them is an ordinary client', async () => {
    const got = await forwardedThrough('10.0.0.0/8', {
      'X-Forwarded-For': '6.6.6.6',
      Forwarded: 'for=6.6.6.6',
    });
    expect(got['x-forwarded-for']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(got.forwarded).toBeUndefined();
  });

  it('TRUST_PROXY set: forwarding headers from the trusted proxy are kept and appended to', async () => {
    const got = await forwardedThrough('loopback', {
      'X-Forwarded-For': '203.0.113.9',
      'X-Forwarded-Proto': 'https',
    });
    expect(got['x-forwarded-for']).toMatch(/^203\.0\.113\.9,(::ffff:)?127\.0\.0\.1$/);
    expect(got['x-forwarded-proto']).toBe('https,http');
  });

  it('strips identity headers on public routes too', async () => {
    const res = await request(gateway.handler).get('/api/products/p9').set('X-User-Role', 'admin');
    expect(res.status).toBe(200);
    expect(lastReceived('product').headers['x-user-role']).toBeUndefined();
  });

  it('generates request and correlation ids, returns them and forwards them', async () => {
    const res = await request(gateway.handler).get('/api/orders/o1').set('Authorization', auth);
    const requestId = res.headers['x-request-id'];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-correlation-id']).toBe(requestId);
    expect(res.body.headers['x-request-id']).toBe(requestId);
    expect(res.body.headers['x-correlation-id']).toBe(requestId);
  });

  it('accepts well-formed ids from the caller and refuses injected ones', async () => {
    const res = await getOrderWith({
      'X-Request-Id': 'client-request-0001',
      'X-Correlation-Id': 'client-correlation-0001',
    });
    expect(res.headers['x-request-id']).toBe('client-request-0001');
    expect(res.body.headers['x-correlation-id']).toBe('client-correlation-0001');
    const bad = await getOrderWith({ 'X-Request-Id': 'bad id\twith spaces' });
    expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/); // a fresh id, not the injected one
    expect(bad.body.headers['x-request-id']).toBe(bad.headers['x-request-id']);
  });

  it('sets the API security headers on proxied answers, and only those', async () => {
    const res = await request(gateway.handler).get('/api/products/p1');
    expect(res.headers).toMatchObject({
      'content-security-policy': "default-src 'none';frame-ancestors 'none'",
      'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-resource-policy': 'same-origin',
      'referrer-policy': 'no-referrer',
    });
    // Document-only headers are for the HTML Express serves (the docs page), not for JSON.
    for (const name of [
      'x-xss-protection',
      'origin-agent-cluster',
      'x-dns-prefetch-control',
      'x-download-options',
      'cross-origin-opener-policy',
      'x-powered-by',
    ]) {
      expect([name, res.headers[name]]).toEqual([name, undefined]);
    }
    const docs = await request(gateway.handler).get('/docs');
    expect(docs.headers['content-security-policy']).toContain("script-src 'self'");
    expect(docs.headers['origin-agent-cluster']).toBe('?1');
  });
});

describe('upstream answers pass through unchanged', () => {
  it.each([400, 404, 409, 422, 500, 503])('status %i with its body', async (status) => {
    const res = await request(gateway.handler)
      .get(`/api/orders/__status/${status}`)
      .set('Authorization', auth);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({
      error: {
        code: 'UPSTREAM_SAID_SO',
        message: `order answered ${status}`,
        details: { name: 'order' },
        requestId: 'rid-1',
      },
    });
  });
});

describe('body size limit (BODY_LIMIT=1kb)', () => {
  it('refuses a declared Content-Length above the limit before the upstream sees it', async () => {
    const res = await sendBody(
      'post',
      '/api/orders',
      'application/json',
      JSON.stringify({ pad: 'x'.repeat(2000) }),
    );
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(stubs.order.received.length).toBe(0);
  });

  it('passes a body at the limit', async () => {
    const body = 'y'.repeat(1024);
    const res = await sendBody('post', '/api/orders', 'text/plain', body);
    expect(res.status).toBe(200);
    expect(res.body.bodyBytes).toBe(1024);
  });
});
