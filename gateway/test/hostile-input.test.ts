import type { AddressInfo } from 'node:net';
import Joi from 'joi';
import { NotFoundError } from '@ecom/common/errors';
import { bindRoutes, createServiceApp, defineApi } from '@ecom/common/http';
import { closeHttpServer, listenHttp, type Listening } from '@ecom/common/lifecycle';
import { testJwtVerify } from '@ecom/test-support';
import { gatewayService, type RunningGateway } from '../src/service';
import { logger, rawHttp, testConfig, useStubs } from './helpers';

/**
 * Issue 19 at the gateway: a path that does not percent-decode is refused at the edge, what
 * the parser lets through but cannot be served is answered by the listening gateway, both in
 * the common error shape; a service built with the kit behind it answers its own refusals
 * through it unchanged.
 */

const stubs = useStubs();
let gw: RunningGateway;
let product: Listening;
let productCalls = 0;

/** A product service on the common kit: GET /api/products/:id, 404 naming the id. */
async function startKitProduct(): Promise<Listening> {
  const api = defineApi({
    service: 'product',
    tag: { name: 'P', description: 'p' },
    prefixes: ['/api/products'],
    operations: {
      getProduct: {
        method: 'get',
        path: '/api/products/:id',
        summary: 'One product',
        access: 'public',
        params: Joi.object({ id: Joi.string().max(10_000).required() }),
        response: { status: 200, description: 'Product', schema: Joi.object() },
      },
    },
  });
  const service = createServiceApp({ service: 'product', logger });
  service.app.use(
    bindRoutes(
      api,
      {
        getProduct: async (req) => {
          productCalls += 1;
          throw new NotFoundError(`Product ${String(req.params.id)} not found`);
        },
      },
      { jwt: testJwtVerify },
    ),
  );
  return listenHttp(service.finish(), 0, '127.0.0.1');
}

beforeAll(async () => {
  product = await startKitProduct();
  gw = await gatewayService.start({
    config: testConfig(stubs, {
      PRODUCT_SERVICE_URL: `http://127.0.0.1:${(product.server.address() as AddressInfo).port}`,
    }),
    logger,
  });
});

afterAll(async () => {
  await gw.stop();
  await closeHttpServer(product.server, 0);
});

const nothingForwarded = () =>
  Object.values(stubs).every((stub) => stub.received.length === 0) && productCalls === 0;

describe('a path that does not percent-decode', () => {
  it.each(['/api/products/%ff', '/api/orders/%e2%82', '/api/payments/order/%'])(
    '%s: 400 MALFORMED_URL at the edge, forwarded nowhere',
    async (path) => {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: {
          code: 'MALFORMED_URL',
          message: expect.any(String),
          requestId: expect.any(String),
        },
      });
      expect(nothingForwarded()).toBe(true);
    },
  );
});

describe('a kit-built service behind the gateway', () => {
  it('refuses a NUL in a path parameter with 400 before its handler', async () => {
    const res = await fetch(`${gw.url}/api/products/%00`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_ERROR');
    expect(productCalls).toBe(0);
  });

  it('names an 8 KB id in its 404 by the first characters only', async () => {
    const res = await fetch(`${gw.url}/api/products/${'a'.repeat(8192)}`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/^Product a{80}… not found$/);
    productCalls = 0;
  });
});

describe('requests the listening gateway refuses before routing', () => {
  it.each([
    ['no Host header', 'GET /api/products HTTP/1.1\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [
      '1,000 headers, the Host last',
      `GET /api/products HTTP/1.1\r\n${'X-A: b\r\n'.repeat(1000)}Host: x\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    ['no HTTP version (HTTP/0.9)', 'GET /api/products\r\n\r\n', 400, 'MALFORMED_REQUEST'],
  ])('%s: the common error shape, forwarded nowhere', async (_label, bytes, status, code) => {
    const { answer, closed } = await rawHttp(gw.url, bytes);
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toMatch(/content-type: application\/json/i);
    expect(head).toMatch(/connection: close/i);
    expect(JSON.parse(body!).error.code).toBe(code);
    expect(closed).toBe(true);
    expect(nothingForwarded()).toBe(true);
  });
});
