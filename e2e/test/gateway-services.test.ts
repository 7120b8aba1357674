/**
 * Through the gateway against the real auth and product services (MongoDB stand-in or
 * MONGO_URL, in-memory bus): tokens issued by auth are accepted at the edge, service
 * answers and errors pass through, and health aggregates the real readiness endpoints.
 */
import request from 'supertest';
import { generateEs256KeyPair } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { authService, loadAuthConfig } from '@ecom/auth-service';
import { gatewayService, loadGatewayConfig, type RunningGateway } from '@ecom/gateway';
import { loadProductConfig, productService } from '@ecom/product-service';
import { createTestMongo, type TestMongo } from '@ecom/test-support';

const logger = createLogger('gateway-e2e', 'silent');

const keys = generateEs256KeyPair();
const ADMIN = { email: 'admin@gateway-e2e.test', password: 'Adm1n-Passw0rd!' };
const PASSWORD = 'Cust0mer-Passw0rd!';

let authMongo: TestMongo;
let productMongo: TestMongo;
const bus = new InMemoryEventBus();
let auth: Awaited<ReturnType<typeof authService.start>>;
let product: Awaited<ReturnType<typeof productService.start>>;
let gw: RunningGateway;

beforeAll(async () => {
  [authMongo, productMongo] = await Promise.all([
    createTestMongo('gw_e2e_auth'),
    createTestMongo('gw_e2e_product'),
  ]);
  const common = { NODE_ENV: 'test', LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0' };
  auth = await authService.start({
    config: loadAuthConfig({
      ...common,
      MONGO_URL: authMongo.url,
      JWT_PRIVATE_KEY: keys.privateKey,
      JWT_PUBLIC_KEY: keys.publicKey,
      BCRYPT_ROUNDS: '4',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
    }),
    bus,
  });
  product = await productService.start({
    config: loadProductConfig({
      ...common,
      MONGO_URL: productMongo.url,
      JWT_PUBLIC_KEY: keys.publicKey,
      CACHE_DRIVER: 'memory',
    }),
    bus,
  });
  gw = await gatewayService.start({
    config: loadGatewayConfig({
      ...common,
      JWT_PUBLIC_KEY: keys.publicKey,
      AUTH_SERVICE_URL: auth.url,
      PRODUCT_SERVICE_URL: product.url,
      // Not started here: health must name them.
      COMMENTS_SERVICE_URL: 'http://127.0.0.1:9',
      PAYMENT_SERVICE_URL: 'http://127.0.0.1:9',
      ORDER_SERVICE_URL: 'http://127.0.0.1:9',
      HEALTH_TIMEOUT_MS: '1000',
      RATE_LIMIT_AUTH_POINTS: '100',
    }),
    logger,
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await product?.stop();
  await auth?.stop();
  await bus.close();
  await Promise.all([authMongo?.cleanup(), productMongo?.cleanup()]);
});

async function login(email: string, password: string): Promise<string> {
  const res = await request(gw.handler).post('/api/auth/login').send({ email, password });
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

describe('through the gateway to the real services', () => {
  let customerToken: string;
  let productId: string;

  it('registers and logs in through the public auth routes', async () => {
    const reg = await request(gw.handler)
      .post('/api/auth/register')
      .send({ email: 'shopper@gateway-e2e.test', password: PASSWORD, name: 'Shopper' });
    expect(reg.status).toBe(201);
    expect(reg.headers['ratelimit-limit']).toBe('100');
    customerToken = await login('shopper@gateway-e2e.test', PASSWORD);
  });

  it('accepts the tokens auth issues and forwards them to the service', async () => {
    const res = await request(gw.handler)
      .get('/api/auth/profile')
      .set('Authorization', `Bearer ${customerToken}`)
      .set('X-Request-Id', 'e2e-request-00001');
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body)).toContain('shopper@gateway-e2e.test');
    expect(res.headers['x-request-id']).toBe('e2e-request-00001');
    const anonymous = await request(gw.handler).get('/api/auth/profile');
    expect(anonymous.status).toBe(401);
  });

  it('an admin creates a product; anyone reads it through the public route', async () => {
    const adminToken = await login(ADMIN.email, ADMIN.password);
    const created = await request(gw.handler)
      .post('/api/products')
      .set('Authorization', `Bearer ${adminToken}`)
      .send({ name: 'Gateway lamp', description: 'Through the edge', price: 24.5, inventory: 7 });
    expect(created.status).toBe(201);
    productId = created.body.id;
    const read = await request(gw.handler).get(`/api/products/${productId}`);
    expect(read.status).toBe(200);
    expect(read.body.name).toBe('Gateway lamp');
  });

  it("the service's own errors pass through: 403 for a customer, even with a spoofed role header", async () => {
    const res = await request(gw.handler)
      .post('/api/products')
      .set('Authorization', `Bearer ${customerToken}`)
      .set('X-User-Role', 'admin')
      .send({ name: 'Nope', description: 'x', price: 1, inventory: 1 });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
  });

  it('a malformed body reaches the service untouched and gets its 400', async () => {
    const res = await request(gw.handler)
      .post('/api/auth/login')
      .set('Content-Type', 'application/json')
      .send('{"email": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_JSON');
  });

  it('GET /health: auth and product up, the services not started named as down', async () => {
    const res = await request(gw.handler).get('/health');
    expect(res.status).toBe(503);
    expect(res.body.down.sort()).toEqual(['comments', 'notification', 'order', 'payment']);
    expect(res.body.upstreams.auth).toMatchObject({ status: 'up', httpStatus: 200 });
    expect(res.body.upstreams.product).toMatchObject({ status: 'up', httpStatus: 200 });
  });
});
