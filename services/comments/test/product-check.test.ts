import { startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('comments_product_check');
});
afterAll(async () => {
  await h.stop();
});

const auth = (userId: string) => ({ Authorization: `Bearer ${h.token(userId)}` });

describe('product existence check against the product service', () => {
  it('asks the product service once per comment written', async () => {
    const productId = h.products.add();
    const before = h.products.calls;
    await h
      .http()
      .post('/api/comments')
      .set(auth('alice'))
      .send({ productId, text: 'x', rating: 5 })
      .expect(201);
    expect(h.products.calls).toBe(before + 1);
  });

  it('answers 503 when the product service fails, with nothing written or published', async () => {
    const productId = h.products.add();
    const root = await h
      .http()
      .post('/api/comments')
      .set(auth('alice'))
      .send({ productId, text: 'root', rating: 4 });
    expect(root.status).toBe(201);
    await h.settle();
    const published = h.published.length;
    const comments = await h.count('comments');
    h.products.mode = 'error';
    try {
      const review = await h
        .http()
        .post('/api/comments')
        .set(auth('bob'))
        .send({ productId, text: 'x', rating: 5 });
      expect(review.status).toBe(503);
      expect(review.body.error).toMatchObject({
        code: 'DEPENDENCY_UNAVAILABLE',
        details: { dependency: 'product-service' },
      });
      const reply = await h
        .http()
        .post('/api/comments')
        .set(auth('bob'))
        .send({ productId, text: 'reply', parentId: root.body.id });
      expect(reply.status).toBe(503);
    } finally {
      h.products.mode = 'up';
    }
    expect(await h.count('comments')).toBe(comments);
    // The reply slot reserved on the parent is not taken either.
    expect((await h.http().get(`/api/comments/${root.body.id}`)).body.replyCount).toBe(0);
    await h.settle();
    expect(h.published.length).toBe(published);
    // Reading does not need the product service.
    h.products.mode = 'error';
    try {
      const list = await h.http().get(`/api/comments/product/${productId}`);
      expect(list.status).toBe(200);
      expect(list.body.items).toHaveLength(1);
    } finally {
      h.products.mode = 'up';
    }
  });

  it('answers 503 when the product service does not answer in time', async () => {
    const productId = h.products.add();
    h.products.mode = 'slow';
    try {
      const res = await h
        .http()
        .post('/api/comments')
        .set(auth('carol'))
        .send({ productId, text: 'x', rating: 5 });
      expect(res.status).toBe(503);
      expect(res.body.error.details).toMatchObject({
        dependency: 'product-service',
        reason: 'timeout',
      });
    } finally {
      h.products.mode = 'up';
    }
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('opens the breaker after repeated failures, then fails fast without calling', async () => {
    const productId = h.products.add();
    h.products.mode = 'error';
    try {
      for (let i = 0; i < 5; i += 1) {
        const res = await h
          .http()
          .post('/api/comments')
          .set(auth(`u${i}`))
          .send({ productId, text: 'x', rating: 5 });
        expect(res.status).toBe(503);
      }
      const calls = h.products.calls;
      const fast = await h
        .http()
        .post('/api/comments')
        .set(auth('u9'))
        .send({ productId, text: 'x', rating: 5 });
      expect(fast.status).toBe(503);
      expect(fast.body.error.details).toMatchObject({ circuit: 'open' });
      expect(h.products.calls).toBe(calls);
    } finally {
      h.products.mode = 'up';
    }
    expect(await h.count('comments', { productId })).toBe(0);
  });
});
