import { envelope, startHarness, type Harness } from './harness';

/**
 * Moderation sticks (docs/adr/0060): a review a moderator hid or removed keeps its author's
 * review slot for the product, so deleting it and posting again does not undo the decision.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness('comments_moderation_sticks');
});
afterAll(async () => {
  await h.stop();
});

const asUser = (userId: string, role: 'customer' | 'admin' = 'customer') =>
  h.http(h.token(userId, role));
const asAdmin = () => asUser('moderator-1', 'admin');
const moderate = (id: string, action: string) =>
  asAdmin().put(`/api/comments/${id}/moderate`).send({ action });
const review = (userId: string, productId: string, text = 'Buy cheap watches at spam.example') =>
  asUser(userId).post('/api/comments').send({ productId, text, rating: 5 });

async function reviewed(userId: string, productId: string): Promise<string> {
  const res = await review(userId, productId);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** What anyone reading the product sees. */
async function publicIds(productId: string): Promise<string[]> {
  const res = await h.http().get(`/api/comments/product/${productId}`);
  expect(res.status).toBe(200);
  return (res.body.items as Array<{ id: string }>).map((c) => c.id);
}

/** The author's next review of the product is refused: 409 in the common error shape. */
async function expectRefused(userId: string, productId: string) {
  const before = await h.count('comments', { productId });
  const published = h.published.length;
  const res = await review(userId, productId, 'the same spam again');
  expect(res.status).toBe(409);
  expect(res.body.error).toMatchObject({
    code: 'CONFLICT',
    message: 'You have already reviewed this product',
    details: { productId, reason: 'review_moderated' },
  });
  expect(await h.count('comments', { productId })).toBe(before);
  await h.settle();
  expect(h.published.length).toBe(published);
}

describe('a hidden review deleted by its author', () => {
  it('goes (204, its words and rating with it) but keeps the slot: posting again is 409', async () => {
    const productId = h.products.add();
    const id = await reviewed('spammer', productId);
    await moderate(id, 'hide').expect(200);

    const del = await asUser('spammer').delete(`/api/comments/${id}`);
    expect(del.status).toBe(204);
    expect(await h.count('comments', { productId })).toBe(0);
    expect(await h.count('held_review_slots', { productId, userId: 'spammer' })).toBe(1);
    await expectRefused('spammer', productId);
    expect(await publicIds(productId)).toEqual([]);
    // Another customer, or the same one on another product, is not affected.
    await reviewed('someone-else', productId);
    await reviewed('spammer', h.products.add());
  });

  it('with replies: becomes a tombstone, and the slot stays kept', async () => {
    const productId = h.products.add();
    const id = await reviewed('spammer-2', productId);
    const reply = await asUser('replier')
      .post('/api/comments')
      .send({ productId, text: 'this is spam', parentId: id });
    expect(reply.status).toBe(201);
    await moderate(id, 'hide').expect(200);
    await asUser('spammer-2').delete(`/api/comments/${id}`).expect(204);
    // A tombstone (no words, no rating, no author) that stays out of public view, with the
    // reply hidden with it: deleting a hidden review publishes nothing.
    expect(await publicIds(productId)).toEqual([]);
    const seen = await asAdmin().get(`/api/comments/product/${productId}`);
    expect(seen.body.items).toEqual([
      expect.objectContaining({ id, status: 'DELETED', text: null, rating: null, author: null }),
    ]);
    expect(seen.body.items[0].replies).toEqual([
      expect.objectContaining({ id: reply.body.id as string }),
    ]);
    await expectRefused('spammer-2', productId);
  });

  it('hidden by trusted flags pending a moderator: also keeps the slot', async () => {
    const productId = h.products.add();
    const id = await reviewed('spammer-3', productId);
    // As trusted flags leave it (the flag path's own update).
    await h.service.connection
      .collection('comments')
      .updateOne(
        { productId },
        { $set: { status: 'HIDDEN', hiddenReason: 'flags', queuedAt: new Date() } },
      );
    await asUser('spammer-3').delete(`/api/comments/${id}`).expect(204);
    await expectRefused('spammer-3', productId);
    expect(await publicIds(productId)).toEqual([]);
  });

  it('approved again before the author deletes it: the slot is freed as for any review', async () => {
    const productId = h.products.add();
    const id = await reviewed('forgiven', productId);
    await moderate(id, 'hide').expect(200);
    await moderate(id, 'approve').expect(200);
    await asUser('forgiven').delete(`/api/comments/${id}`).expect(204);
    await reviewed('forgiven', productId);
  });
});

describe('a review removed by a moderator', () => {
  it('remove keeps the slot: posting again is 409', async () => {
    const productId = h.products.add();
    const id = await reviewed('removed-author', productId);
    const res = await moderate(id, 'remove');
    expect(res.body).toMatchObject({ outcome: 'removed', comment: null });
    await expectRefused('removed-author', productId);
    expect(await publicIds(productId)).toEqual([]);
  });

  it("an admin's DELETE keeps the slot too", async () => {
    const productId = h.products.add();
    const id = await reviewed('deleted-by-admin', productId);
    await asAdmin().delete(`/api/comments/${id}`).expect(204);
    await expectRefused('deleted-by-admin', productId);
  });

  it('a review posted while its hidden predecessor is being deleted is withdrawn (409, created then deleted)', async () => {
    const productId = h.products.add();
    const id = await reviewed('racer', productId);
    await moderate(id, 'hide').expect(200);
    // The author deletes the hidden review while their new one asks for the product: the new
    // one passed the first look at the slot and takes the slot the delete freed.
    h.products.beforeAnswer = async () => {
      h.products.beforeAnswer = undefined;
      await asUser('racer').delete(`/api/comments/${id}`).expect(204);
    };
    const res = await review('racer', productId, 'the same spam again');
    expect(res.status).toBe(409);
    expect(res.body.error.details).toEqual({ productId, reason: 'review_moderated' });
    expect(await h.count('comments', { productId })).toBe(0);
    expect(await publicIds(productId)).toEqual([]);
    // Consumers saw the withdrawn review come and go.
    await h.settle();
    const types = h.published
      .filter((e) => (e.data as { productId?: string }).productId === productId)
      .map((e) => e.eventType);
    expect(types.filter((t) => t === 'comment.created')).toHaveLength(2);
    expect(types.filter((t) => t === 'comment.deleted')).toHaveLength(2);
  });
});

describe('held slots go with what they hold', () => {
  it('user.deleted and product.deleted release them', async () => {
    const productId = h.products.add();
    const other = h.products.add();
    await moderate(await reviewed('leaver', productId), 'remove').expect(200);
    await moderate(await reviewed('stayer', other), 'remove').expect(200);
    expect(await h.count('held_review_slots', { userId: 'leaver' })).toBe(1);
    await h.bus.publish(envelope('user.deleted', { userId: 'leaver' }));
    await h.bus.publish(envelope('product.deleted', { productId: other }));
    await h.settle();
    expect(await h.count('held_review_slots', { userId: 'leaver' })).toBe(0);
    expect(await h.count('held_review_slots', { productId: other })).toBe(0);
  });
});

describe('unchanged', () => {
  it('a visible review deleted by its author frees the slot; editing a hidden one keeps it hidden', async () => {
    const productId = h.products.add();
    const id = await reviewed('honest', productId);
    await asUser('honest').delete(`/api/comments/${id}`).expect(204);
    const again = await reviewed('honest', productId);
    await moderate(again, 'hide').expect(200);
    const edit = await asUser('honest').put(`/api/comments/${again}`).send({ text: 'edited' });
    expect(edit.status).toBe(200);
    expect(edit.body.status).toBe('HIDDEN');
    expect(await publicIds(productId)).toEqual([]);
    expect(await h.count('held_review_slots', { productId })).toBe(0);
  });
});
