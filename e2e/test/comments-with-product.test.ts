/**
 * The comments service next to the real product service on one in-memory bus: the existence
 * check goes to the product service's real HTTP API (through common's product client),
 * product's rating aggregate follows the comment events, and product.deleted removes the
 * comments. Checks the event contracts end to end, beyond each service's own tests.
 */
import request from 'supertest';
import type { AuthUser } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import {
  commentsService,
  loadCommentsConfig,
  type RunningCommentsService,
} from '@ecom/comments-service';
import {
  loadProductConfig,
  productService,
  type RunningProductService,
} from '@ecom/product-service';
import { bearer, createTestMongo, requestsAs, testServiceEnv } from '@ecom/test-support';
import type { TestMongo } from '@ecom/test-support';

const seller: AuthUser = { id: 'seller-1', role: 'seller' };
const admin: AuthUser = { id: 'admin-1', role: 'admin' };
const customer = (id: string): AuthUser => ({ id, role: 'customer' });

let bus: InMemoryEventBus;
let productMongo: TestMongo;
let commentsMongo: TestMongo;
let product: RunningProductService;
let comments: RunningCommentsService;

beforeAll(async () => {
  bus = new InMemoryEventBus({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
  productMongo = await createTestMongo('comments_with_product_p');
  commentsMongo = await createTestMongo('comments_with_product_c');
  const env = { ...testServiceEnv, NODE_ENV: 'test' };
  product = await productService.start({
    config: loadProductConfig({ ...env, MONGO_URL: productMongo.url, CACHE_DRIVER: 'off' }),
    bus,
  });
  comments = await commentsService.start({
    config: loadCommentsConfig({
      ...env,
      MONGO_URL: commentsMongo.url,
      PRODUCT_SERVICE_URL: product.url,
    }),
    bus,
  });
});

afterAll(async () => {
  await comments?.stop();
  await product?.stop();
  await bus?.close();
  await productMongo?.cleanup();
  await commentsMongo?.cleanup();
});

const settle = async () => {
  await new Promise((resolve) => setImmediate(resolve));
  await bus.idle();
};

async function createProduct(): Promise<string> {
  const res = await requestsAs(() => request(product.url), seller)
    .post('/api/products')
    .send({ name: 'Desk lamp', price: 19.99, inventory: 10 });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function rating(productId: string) {
  await settle();
  const res = await request(product.url).get(`/api/products/${productId}`);
  return res.body.rating as { average: number; count: number };
}

const countComments = (productId: string) =>
  comments.connection.collection('comments').countDocuments({ productId });

it('checks products against the product service and keeps its rating aggregate in step', async () => {
  const productId = await createProduct();
  const post = (user: AuthUser, body: Record<string, unknown>) =>
    request(comments.url).post('/api/comments').set('Authorization', bearer(user)).send(body);

  const r1 = await post(customer('c1'), { productId, text: 'Bright', rating: 5 });
  expect(r1.status).toBe(201);
  const r2 = await post(customer('c2'), { productId, text: 'Flickers', rating: 2 });
  expect(r2.status).toBe(201);
  // Replies carry no rating and do not count.
  expect(
    (await post(customer('c3'), { productId, text: 'Same here', parentId: r2.body.id })).status,
  ).toBe(201);
  expect(await rating(productId)).toEqual({ average: 3.5, count: 2 });

  await request(comments.url)
    .put(`/api/comments/${r2.body.id}`)
    .set('Authorization', bearer(customer('c2')))
    .send({ rating: 3 })
    .expect(200);
  expect(await rating(productId)).toEqual({ average: 4, count: 2 });

  // A tombstoned review (it has a reply) leaves the aggregate too.
  await request(comments.url)
    .delete(`/api/comments/${r2.body.id}`)
    .set('Authorization', bearer(customer('c2')))
    .expect(204);
  expect(await rating(productId)).toEqual({ average: 5, count: 1 });

  // A product the product service does not know is refused.
  const unknown = await post(customer('c4'), {
    productId: 'ffffffffffffffffffffffff',
    text: 'x',
    rating: 1,
  });
  expect(unknown.status).toBe(404);
});

it('removes the comments when the product is deleted, and refuses new ones', async () => {
  const productId = await createProduct();
  const res = await request(comments.url)
    .post('/api/comments')
    .set('Authorization', bearer(customer('c1')))
    .send({ productId, text: 'Nice', rating: 4 });
  expect(res.status).toBe(201);
  await request(product.url)
    .delete(`/api/products/${productId}`)
    .set('Authorization', bearer(admin))
    .expect(204);
  await settle();
  expect(await countComments(productId)).toBe(0);
  const late = await request(comments.url)
    .post('/api/comments')
    .set('Authorization', bearer(customer('c2')))
    .send({ productId, text: 'Late', rating: 3 });
  expect(late.status).toBe(404);
  expect(await countComments(productId)).toBe(0);
});
