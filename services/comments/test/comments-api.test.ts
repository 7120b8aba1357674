import { Types } from 'mongoose';
import { startHarness, newProductId, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('comments_api');
});
afterAll(async () => {
  await h.stop();
});

const alice = () => h.token('user-alice');
const bob = () => h.token('user-bob');
const carol = () => h.token('user-carol');
const admin = () => h.token('admin-1', 'admin');

/** POST /api/comments with `token`. */
const postComment = (token: string, body: Record<string, unknown>) =>
  h.http(token).post('/api/comments').send(body);

async function review(token: string, productId: string, text = 'Great product', rating = 5) {
  const res = await postComment(token, { productId, text, rating });
  expect(res.status).toBe(201);
  return res.body as { id: string; depth: number };
}

async function reply(token: string, productId: string, parentId: string, text = 'Agreed') {
  const res = await postComment(token, { productId, text, parentId });
  expect(res.status).toBe(201);
  return res.body as { id: string; depth: number };
}

describe('POST /api/comments', () => {
  it('creates a review with a rating and returns the comment itself (no wrapper)', async () => {
    const productId = h.products.add();
    const res = await postComment(alice(), {
      productId,
      text: '  Solid <b>build</b>, "quotes" & ünïcödé  ',
      rating: 4,
    });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toMatchObject({
      productId,
      parentId: null,
      depth: 0,
      rating: 4,
      // Stored and returned exactly as given: no trimming, no escaping, no rendering.
      text: '  Solid <b>build</b>, "quotes" & ünïcödé  ',
      author: { id: 'user-alice' },
      status: 'VISIBLE',
      deleted: false,
      helpfulCount: 0,
      editedAt: null,
    });
    expect(res.headers.location).toBe(`/api/comments/${res.body.id}`);
    const stored = await h.http().get(`/api/comments/${res.body.id}`);
    expect(stored.body.text).toBe('  Solid <b>build</b>, "quotes" & ünïcödé  ');
  });

  it('requires authentication', async () => {
    const productId = h.products.add();
    const res = await h.http().post('/api/comments').send({ productId, text: 'x', rating: 5 });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('refuses a forged or malformed token', async () => {
    const productId = h.products.add();
    const forged = alice().slice(0, -4) + 'AAAA';
    for (const header of [`Bearer ${forged}`, 'Bearer nope', 'Basic abc']) {
      const res = await h
        .http()
        .post('/api/comments')
        .set('Authorization', header)
        .send({ productId, text: 'x', rating: 5 });
      expect(res.status).toBe(401);
    }
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('allows one review per user per product (409 on a second)', async () => {
    const productId = h.products.add();
    await review(alice(), productId);
    const second = await postComment(alice(), { productId, text: 'Again', rating: 1 });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('CONFLICT');
    expect(await h.count('comments', { productId })).toBe(1);
    // Someone else may still review it.
    await review(bob(), productId);
  });

  it('counts a product id in another letter case as the same product', async () => {
    const productId = h.products.add();
    await review(alice(), productId);
    const second = await postComment(alice(), {
      productId: productId.toUpperCase(),
      text: 'Again, shouted',
      rating: 5,
    });
    expect(second.status).toBe(409);
    expect(await h.count('comments', { productId })).toBe(1);
    expect(await h.count('comments', { productId: productId.toUpperCase() })).toBe(0);
    // Reads in either spelling name the same product.
    const listed = await h.http().get(`/api/comments/product/${productId.toUpperCase()}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(1);
  });

  it('keeps one review per user even under concurrent requests', async () => {
    const productId = h.products.add();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        postComment(carol(), { productId, text: `attempt ${i}`, rating: 3 }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await h.count('comments', { productId })).toBe(1);
  });

  it('creates replies without a rating, nested under their parent', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId);
    const r1 = await reply(bob(), productId, root.id);
    expect(r1.depth).toBe(1);
    const r2 = await reply(alice(), productId, r1.id);
    expect(r2.depth).toBe(2);
    const parent = await h.http().get(`/api/comments/${root.id}`);
    expect(parent.body.replyCount).toBe(1);
  });

  it('refuses a reply with a rating and a review without one (400, nothing written)', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId);
    const before = await h.count('comments');
    const withRating = await postComment(bob(), {
      productId,
      text: 'reply',
      parentId: root.id,
      rating: 5,
    });
    expect(withRating.status).toBe(400);
    const noRating = await postComment(bob(), { productId, text: 'review' });
    expect(noRating.status).toBe(400);
    expect(noRating.body.error.code).toBe('VALIDATION_ERROR');
    expect(await h.count('comments')).toBe(before);
  });

  it('refuses a reply to a comment of another product (422)', async () => {
    const p1 = h.products.add();
    const p2 = h.products.add();
    const root = await review(alice(), p1);
    const before = await h.count('comments');
    const res = await postComment(bob(), {
      productId: p2,
      text: 'wrong thread',
      parentId: root.id,
    });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('PARENT_PRODUCT_MISMATCH');
    expect(await h.count('comments')).toBe(before);
  });

  it('refuses a reply to an unknown comment (404)', async () => {
    const productId = h.products.add();
    const res = await postComment(bob(), { productId, text: 'hello?', parentId: 'a'.repeat(24) });
    expect(res.status).toBe(404);
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('bounds thread depth (replies below depth 3 are refused with 422)', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId);
    const d1 = await reply(bob(), productId, root.id);
    const d2 = await reply(carol(), productId, d1.id);
    const d3 = await reply(bob(), productId, d2.id);
    expect(d3.depth).toBe(3);
    const res = await postComment(alice(), { productId, text: 'too deep', parentId: d3.id });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('THREAD_TOO_DEEP');
    expect(await h.count('comments', { productId })).toBe(4);
  });

  it("refuses a seller's review of its own product (403, nothing written); its reply under a review is welcome", async () => {
    const seller = () => h.token('seller-7', 'seller');
    const productId = h.products.add('seller-7');
    const own = await postComment(seller(), { productId, text: 'Best lamp ever', rating: 5 });
    expect(own.status).toBe(403);
    expect(own.body.error).toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'own_product' },
    });
    expect(await h.count('comments', { productId })).toBe(0);
    const theirs = await review(alice(), productId, 'Too dim', 2);
    const answer = await postComment(seller(), {
      productId,
      parentId: theirs.id,
      text: 'The 60 W bulb fits too',
    });
    expect(answer.status).toBe(201);
    expect(answer.body.parentId).toBe(theirs.id);
    // Another seller's product: a review like anyone's.
    const elsewhere = await postComment(seller(), {
      productId: h.products.add('seller-8'),
      text: 'Solid',
      rating: 4,
    });
    expect(elsewhere.status).toBe(201);
  });

  it('refuses a product that does not exist (404, nothing written)', async () => {
    const unknown = newProductId();
    const res = await postComment(alice(), { productId: unknown, text: 'ghost', rating: 5 });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('Product not found');
    expect(await h.count('comments', { productId: unknown })).toBe(0);
  });

  it.each([
    ['empty body', {}],
    ['blank text', { text: '   ', rating: 5 }],
    ['text of zero-width spaces and a joiner', { text: '\u200b\u200b\u200d\u2060', rating: 1 }],
    [
      'text of a bidi mark, a soft hyphen and a Hangul filler',
      { text: '\u200f\u00ad\u3164', rating: 1 },
    ],
    ['text of combining marks alone', { text: '\u0301\u0308', rating: 1 }],
    ['empty text', { text: '', rating: 5 }],
    ['text too long', { text: 'x'.repeat(5001), rating: 5 }],
    ['rating 0', { text: 'ok', rating: 0 }],
    ['rating 6', { text: 'ok', rating: 6 }],
    ['fractional rating', { text: 'ok', rating: 4.5 }],
    ['rating as string', { text: 'ok', rating: '5' }],
    ['text as object (operator injection)', { text: { $gt: '' }, rating: 5 }],
    ['unknown field', { text: 'ok', rating: 5, authorId: 'someone-else' }],
    ['malformed parentId', { text: 'ok', parentId: 'not-an-id' }],
  ])('answers 400 for %s with nothing written', async (_name, fields) => {
    const productId = h.products.add();
    const before = await h.count('comments');
    const res = await postComment(alice(), { productId, ...fields });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(res.body.error.requestId).toEqual(expect.any(String));
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
    expect(await h.count('comments')).toBe(before);
  });

  it.each([
    ['an accented letter', 'e\u0301'],
    ['a word between zero-width spaces', '\u200bgood\u200b'],
    ['an emoji', '\u{1f44d}'],
    ['CJK', '\u597d'],
  ])('takes text with something that shows: %s', async (_name, text) => {
    const productId = h.products.add();
    const res = await postComment(alice(), { productId, text, rating: 4 });
    expect(res.status).toBe(201);
    expect(res.body.text).toBe(text);
  });

  it('answers 400 for a bad productId and for malformed JSON', async () => {
    const before = await h.count('comments');
    const bad = await postComment(alice(), { productId: { $ne: null }, text: 'x', rating: 5 });
    expect(bad.status).toBe(400);
    const malformed = await h
      .http(alice())
      .post('/api/comments')
      .set('Content-Type', 'application/json')
      .send('{"text": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('MALFORMED_JSON');
    expect(await h.count('comments')).toBe(before);
  });

  it('accepts text at exactly the maximum length', async () => {
    const productId = h.products.add();
    const created = await review(alice(), productId, 'y'.repeat(5000));
    const got = await h.http().get(`/api/comments/${created.id}`);
    expect(got.body.text).toHaveLength(5000);
  });
});

describe('GET /api/comments/product/:productId', () => {
  it('lists top-level reviews newest first, paginated, with replies nested', async () => {
    const productId = h.products.add();
    const users = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const ids: string[] = [];
    for (const u of users) ids.push((await review(h.token(u), productId, `review by ${u}`)).id);
    const r = await reply(h.token('u9'), productId, ids[4]!, 'first reply');
    await reply(h.token('u8'), productId, r.id, 'nested reply');

    const page1 = await h.http().get(`/api/comments/product/${productId}?limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.body).toMatchObject({ page: 1, limit: 2, total: 5, totalPages: 3 });
    expect(Object.keys(page1.body).sort()).toEqual([
      'items',
      'limit',
      'page',
      'total',
      'totalPages',
    ]);
    expect(page1.body.items.map((c: { id: string }) => c.id)).toEqual([ids[4], ids[3]]);
    const top = page1.body.items[0];
    expect(top.replies).toHaveLength(1);
    expect(top.replies[0]).toMatchObject({ text: 'first reply', depth: 1, rating: null });
    expect(top.replies[0].replies[0]).toMatchObject({ text: 'nested reply', depth: 2 });

    const page3 = await h.http().get(`/api/comments/product/${productId}?limit=2&page=3`);
    expect(page3.body.items.map((c: { id: string }) => c.id)).toEqual([ids[0]]);
  });

  it('sorts by helpful votes when asked', async () => {
    const productId = h.products.add();
    const a = await review(h.token('h1'), productId, 'a');
    const b = await review(h.token('h2'), productId, 'b');
    const c = await review(h.token('h3'), productId, 'c');
    for (const voter of ['v1', 'v2']) {
      const res = await h.http(h.token(voter)).post(`/api/comments/${a.id}/helpful`);
      expect(res.status).toBe(201);
    }
    await h.http(h.token('v1')).post(`/api/comments/${c.id}/helpful`);
    const res = await h.http().get(`/api/comments/product/${productId}?sort=helpful`);
    expect(res.body.items.map((x: { id: string }) => x.id)).toEqual([a.id, c.id, b.id]);
    expect(res.body.items[0].helpfulCount).toBe(2);
    const newest = await h.http().get(`/api/comments/product/${productId}?sort=newest`);
    expect(newest.body.items.map((x: { id: string }) => x.id)).toEqual([c.id, b.id, a.id]);
  });

  it('returns an empty page for a product without comments', async () => {
    const res = await h.http().get(`/api/comments/product/${newProductId()}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], page: 1, limit: 20, total: 0, totalPages: 0 });
  });

  it.each([
    ['page=0'],
    ['limit=0'],
    ['limit=101'],
    ['page=501'],
    ['page=101&limit=100'],
    ['sort=rating'],
    ['page=abc'],
    ['extra=1'],
    ['limit[$gt]=1'],
  ])('answers 400 for ?%s', async (qs) => {
    const res = await h.http().get(`/api/comments/product/${newProductId()}?${qs}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });

  it.each([['page=500'], ['page=100&limit=100']])(
    'answers ?%s, the last page inside the first 10,000 results',
    async (qs) => {
      const res = await h.http().get(`/api/comments/product/${newProductId()}?${qs}`);
      expect(res.status).toBe(200);
    },
  );

  it('answers 400 for a malformed product id and 401 for a bad optional token', async () => {
    const bad = await h.http().get(`/api/comments/product/${encodeURIComponent('a b$')}`);
    expect(bad.status).toBe(400);
    const badToken = await h
      .http()
      .get(`/api/comments/product/${newProductId()}`)
      .set('Authorization', 'Bearer garbage');
    expect(badToken.status).toBe(401);
  });
});

describe('PUT /api/comments/:id', () => {
  it('lets the author edit text and rating, recording editedAt', async () => {
    const productId = h.products.add();
    const c = await review(alice(), productId, 'first take', 2);
    const res = await h
      .http(alice())
      .put(`/api/comments/${c.id}`)
      .send({ text: 'second take', rating: 4 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ text: 'second take', rating: 4 });
    expect(Date.parse(res.body.editedAt)).not.toBeNaN();
    const stored = await h.http().get(`/api/comments/${c.id}`);
    expect(stored.body).toMatchObject({ text: 'second take', rating: 4 });
    expect(stored.body.editedAt).toBe(res.body.editedAt);
  });

  it('refuses anyone but the author, admins included (403, unchanged)', async () => {
    const productId = h.products.add();
    const c = await review(alice(), productId, 'mine', 3);
    for (const token of [bob(), admin()]) {
      const res = await h.http(token).put(`/api/comments/${c.id}`).send({ text: 'hijacked' });
      expect(res.status).toBe(403);
    }
    const anon = await h.http().put(`/api/comments/${c.id}`).send({ text: 'anon' });
    expect(anon.status).toBe(401);
    const stored = await h.http().get(`/api/comments/${c.id}`);
    expect(stored.body).toMatchObject({ text: 'mine', editedAt: null });
  });

  it('refuses a rating on a reply, an empty edit and bad values (400, unchanged)', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId);
    const r = await reply(bob(), productId, root.id, 'reply text');
    const cases: Array<[string, Record<string, unknown>]> = [
      [r.id, { rating: 5 }],
      [root.id, {}],
      [root.id, { rating: 9 }],
      [root.id, { text: '' }],
      [root.id, { text: 'ok', status: 'VISIBLE' }],
    ];
    for (const [id, body] of cases) {
      const token = id === r.id ? bob() : alice();
      const res = await h.http(token).put(`/api/comments/${id}`).send(body);
      expect(res.status).toBe(400);
    }
    const stored = await h.http().get(`/api/comments/${r.id}`);
    expect(stored.body).toMatchObject({ text: 'reply text', rating: null, editedAt: null });
  });

  it('refuses a new rating from a seller on a review of its own product it wrote before the rule (403); its words may change', async () => {
    const seller = () => h.token('seller-9', 'seller');
    const productId = h.products.add('seller-9');
    const c = await review(alice(), productId, 'Bright enough', 3);
    // A review the seller left before sellers were refused: rewritten as its own in the store.
    await h.service.connection
      .collection('comments')
      .updateOne(
        { _id: new Types.ObjectId(c.id) },
        { $set: { authorId: 'seller-9', reviewSlot: `${productId}|seller-9` } },
      );
    const rerate = await h.http(seller()).put(`/api/comments/${c.id}`).send({ rating: 5 });
    expect(rerate.status).toBe(403);
    expect(rerate.body.error).toMatchObject({
      code: 'FORBIDDEN',
      details: { reason: 'own_product' },
    });
    const both = await h
      .http(seller())
      .put(`/api/comments/${c.id}`)
      .send({ text: 'Brightest', rating: 5 });
    expect(both.status).toBe(403);
    expect((await h.http().get(`/api/comments/${c.id}`)).body).toMatchObject({
      text: 'Bright enough',
      rating: 3,
      editedAt: null,
    });
    const words = await h.http(seller()).put(`/api/comments/${c.id}`).send({ text: 'Bright' });
    expect(words.status).toBe(200);
    expect(words.body).toMatchObject({ text: 'Bright', rating: 3 });
  });

  it('answers 404 for an unknown comment and 400 for a malformed id', async () => {
    const missing = await h
      .http(alice())
      .put(`/api/comments/${'b'.repeat(24)}`)
      .send({ text: 'x' });
    expect(missing.status).toBe(404);
    const malformed = await h.http(alice()).put('/api/comments/xyz').send({ text: 'x' });
    expect(malformed.status).toBe(400);
  });
});

describe('DELETE /api/comments/:id', () => {
  it('removes a comment without replies (author): 204, no body', async () => {
    const productId = h.products.add();
    const c = await review(alice(), productId);
    const res = await h.http(alice()).delete(`/api/comments/${c.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(await h.count('comments', { productId })).toBe(0);
    expect((await h.http().get(`/api/comments/${c.id}`)).status).toBe(404);
  });

  it('turns a comment with replies into a tombstone so the thread survives', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId, 'original words', 5);
    const r = await reply(bob(), productId, root.id, 'a reply');
    const res = await h.http(alice()).delete(`/api/comments/${root.id}`);
    expect(res.status).toBe(204);
    expect(await h.count('comments', { productId })).toBe(2);
    const list = await h.http().get(`/api/comments/product/${productId}`);
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({
      id: root.id,
      deleted: true,
      status: 'DELETED',
      text: null,
      rating: null,
      author: null,
    });
    expect(list.body.items[0].replies[0]).toMatchObject({ id: r.id, text: 'a reply' });
    expect(JSON.stringify(list.body)).not.toContain('original words');
    // The tombstone is gone for good: no edit, no second delete, no new replies.
    const again = await h.http(alice()).delete(`/api/comments/${root.id}`);
    expect(again.status).toBe(404);
    const edit = await h.http(alice()).put(`/api/comments/${root.id}`).send({ text: 'back' });
    expect(edit.status).toBe(404);
    const replyToTombstone = await postComment(carol(), {
      productId,
      text: 'late',
      parentId: root.id,
    });
    expect(replyToTombstone.status).toBe(422);
    expect(replyToTombstone.body.error.code).toBe('PARENT_DELETED');
  });

  it('frees the review slot: the author may review again after deleting', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId);
    await reply(bob(), productId, root.id);
    await h.http(alice()).delete(`/api/comments/${root.id}`).expect(204);
    await review(alice(), productId, 'changed my mind', 2);
  });

  it('removes an emptied tombstone once its last reply is deleted', async () => {
    const productId = h.products.add();
    const root = await review(alice(), productId);
    const r = await reply(bob(), productId, root.id);
    await h.http(alice()).delete(`/api/comments/${root.id}`).expect(204);
    expect(await h.count('comments', { productId })).toBe(2);
    await h.http(bob()).delete(`/api/comments/${r.id}`).expect(204);
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('lets an admin delete anyone’s comment, but not other users', async () => {
    const productId = h.products.add();
    const c = await review(alice(), productId);
    const byBob = await h.http(bob()).delete(`/api/comments/${c.id}`);
    expect(byBob.status).toBe(403);
    expect(await h.count('comments', { productId })).toBe(1);
    const byAdmin = await h.http(admin()).delete(`/api/comments/${c.id}`);
    expect(byAdmin.status).toBe(204);
    expect(await h.count('comments', { productId })).toBe(0);
  });

  it('requires authentication', async () => {
    const productId = h.products.add();
    const c = await review(alice(), productId);
    const res = await h.http().delete(`/api/comments/${c.id}`);
    expect(res.status).toBe(401);
    expect(await h.count('comments', { productId })).toBe(1);
  });
});
