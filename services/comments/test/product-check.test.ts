import { startHarness, type Harness, type ProductStub } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('comments_product_check');
});
afterAll(async () => {
  await h.stop();
});

/** Requests as the customer `userId`. */
const asUser = (userId: string) => h.http(h.token(userId));

const post = (userId: string, body: Record<string, unknown>) =>
  asUser(userId).post('/api/comments').send(body);

/** A review of `productId` by `userId`. */
const review = (userId: string, productId: string) =>
  post(userId, { productId, text: 'x', rating: 5 });

/** Runs `fn` while the product service behaves as `mode`. */
async function whileProduct(mode: ProductStub['mode'], fn: () => Promise<void>): Promise<void> {
  h.products.mode = mode;
  try {
    await fn();
  } finally {
    h.products.mode = 'up';
  }
}

const unavailable = { code: 'DEPENDENCY_UNAVAILABLE', details: { dependency: 'product-service' } };

describe('product existence check against the product service', () => {
  it('asks the product service once per comment written', async () => {
    const productId = h.products.add();
    const before = h.products.calls;
    expect((await review('alice', productId)).status).toBe(201);
    expect(h.products.calls).toBe(before + 1);
  });

  it('answers 503 when the product service fails, with nothing written or published', async () => {
    const productId = h.products.add();
    const root = await post('alice', { productId, text: 'root', rating: 4 });
    expect(root.status).toBe(201);
    await h.settle();
    const published = h.published.length;
    const comments = await h.count('comments');
    await whileProduct('error', async () => {
      const refused = await review('bob', productId);
      expect(refused.status).toBe(503);
      expect(refused.body.error).toMatchObject(unavailable);
      const reply = await post('bob', { productId, text: 'reply', parentId: root.body.id });
      expect(reply.status).toBe(503);
    });
    expect(await h.count('comments')).toBe(comments);
    // The reply slot reserved on the parent is not taken either.
    expect((await h.http().get(`/api/comments/${root.body.id}`)).body.replyCount).toBe(0);
    await h.settle();
    expect(h.published.length).toBe(published);
    // Reading does not need the product service.
    await whileProduct('error', async () => {
      const list = await h.http().get(`/api/comments/product/${productId}`);
      expect(list.status).toBe(200);
      expect(list.body.items).toHaveLength(1);
    });
  });

  it('answers 503 when the product service answers something that is not a product', async () => {
    const productId = h.products.add();
    await whileProduct('malformed', async () => {
      const res = await review('dora', productId);
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject(unavailable);
    });
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('answers 503 when the product service does not answer in time', async () => {
    const productId = h.products.add();
    await whileProduct('slow', async () => {
      const res = await review('carol', productId);
      expect(res.status).toBe(503);
      expect(res.body.error.details).toMatchObject({
        dependency: 'product-service',
        reason: 'timeout',
      });
    });
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('opens the breaker after repeated failures, then fails fast without calling', async () => {
    const productId = h.products.add();
    await whileProduct('error', async () => {
      for (let i = 0; i < 5; i += 1) {
        expect((await review(`u${i}`, productId)).status).toBe(503);
      }
      const calls = h.products.calls;
      const fast = await review('u9', productId);
      expect(fast.status).toBe(503);
      expect(fast.body.error.details).toMatchObject({ circuit: 'open' });
      expect(h.products.calls).toBe(calls);
    });
    expect(await h.count('comments', { productId })).toBe(0);
  });
});
