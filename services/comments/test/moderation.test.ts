import { pageSchema, type ResponseSpec } from '@ecom/common/http';
import { commentsApi } from '../src/http/api';
import { startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  // The default threshold (3) is what this file exercises.
  h = await startHarness('comments_moderation');
});
afterAll(async () => {
  await h.stop();
});

/** Requests as `userId` (a customer unless `role` says otherwise). */
const asUser = (userId: string, role: 'customer' | 'admin' = 'customer') =>
  h.http(h.token(userId, role));
const asAdmin = () => asUser('admin-1', 'admin');
/** An admin's moderation `action` on a comment. */
const moderate = (id: string, action: string) =>
  asAdmin().put(`/api/comments/${id}/moderate`).send({ action });

async function post(userId: string, body: Record<string, unknown>) {
  const res = await asUser(userId).post('/api/comments').send(body);
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

async function flag(commentId: string, userId: string, reason = 'spam') {
  return asUser(userId).post(`/api/comments/${commentId}/flag`).send({ reason });
}

async function listIds(productId: string, token?: string) {
  const res = await h.http(token).get(`/api/comments/product/${productId}`);
  expect(res.status).toBe(200);
  return res.body.items as Array<{ id: string; replies: Array<{ id: string }> }>;
}

describe('POST /api/comments/:id/flag', () => {
  it('records one flag per user per comment (409 on a second)', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'meh', rating: 2 });
    const first = await flag(c.id, 'flagger-1');
    expect(first.status).toBe(201);
    expect(first.headers.location).toBe(`/api/comments/${c.id}/flag`);
    expect(first.body).toEqual({ commentId: c.id, flagged: true, hidden: false });
    const second = await flag(c.id, 'flagger-1', 'again');
    expect(second.status).toBe(409);
    expect(await h.count('flags', { userId: 'flagger-1' })).toBe(1);
    const adminView = await asAdmin().get(`/api/comments/${c.id}`);
    expect(adminView.body.moderation).toEqual({
      flags: 1,
      flagsSinceReview: 1,
      trustedFlagsSinceReview: 0,
      hiddenReason: null,
      queuedAt: null,
    });
  });

  it('keeps one flag per user under concurrent requests', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'x', rating: 3 });
    const results = await Promise.all([1, 2, 3, 4].map(() => flag(c.id, 'racer')));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    const adminView = await asAdmin().get(`/api/comments/${c.id}`);
    expect(adminView.body.moderation.flags).toBe(1);
  });

  it('3 flags queue a comment; once hidden it is left out except for admins', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'offensive', rating: 1 });
    const other = await post('someone', { productId, text: 'fine', rating: 4 });
    const reply = await post('replier', { productId, text: 'reply under it', parentId: c.id });
    expect((await flag(c.id, 'f1')).body.hidden).toBe(false);
    expect((await flag(c.id, 'f2')).body.hidden).toBe(false);
    // Accounts this service knows nothing about carry no trusted weight: queued, not hidden.
    expect((await flag(c.id, 'f3')).body.hidden).toBe(false);
    expect((await listIds(productId)).map((x) => x.id).sort()).toEqual([c.id, other.id].sort());
    await moderate(c.id, 'hide').expect(200);

    const publicList = await listIds(productId);
    expect(publicList.map((x) => x.id)).toEqual([other.id]);
    const publicPage = await h.http().get(`/api/comments/product/${productId}`);
    expect(publicPage.body.total).toBe(1);
    expect(JSON.stringify(publicPage.body)).not.toContain('offensive');
    expect(JSON.stringify(publicPage.body)).not.toContain(reply.id);
    expect((await h.http().get(`/api/comments/${c.id}`)).status).toBe(404);
    // Even a logged-in customer does not see it; nor can they flag it any more.
    expect((await listIds(productId, h.token('someone'))).map((x) => x.id)).toEqual([other.id]);
    expect((await flag(c.id, 'f4')).status).toBe(404);

    const adminList = await listIds(productId, h.token('admin-1', 'admin'));
    expect(adminList.map((x) => x.id).sort()).toEqual([c.id, other.id].sort());
    const hidden = (await asAdmin().get(`/api/comments/product/${productId}`)).body.items.find(
      (x: { id: string }) => x.id === c.id,
    );
    expect(hidden).toMatchObject({
      status: 'HIDDEN',
      moderation: { flags: 3, flagsSinceReview: 3, hiddenReason: 'moderator' },
    });
    expect(hidden.replies.map((x: { id: string }) => x.id)).toEqual([reply.id]);
  });

  it('hides a reply on its own, keeping the rest of the thread', async () => {
    const productId = h.products.add();
    const root = await post('author', { productId, text: 'root', rating: 5 });
    const bad = await post('troll', { productId, text: 'bad reply', parentId: root.id });
    const good = await post('nice', { productId, text: 'good reply', parentId: root.id });
    for (const f of ['a', 'b', 'c']) expect((await flag(bad.id, f)).status).toBe(201);
    expect((await listIds(productId))[0]!.replies.map((r) => r.id)).toEqual([bad.id, good.id]);
    await moderate(bad.id, 'hide').expect(200);
    const list = await listIds(productId);
    expect(list[0]!.replies.map((r) => r.id)).toEqual([good.id]);
  });

  it('refuses flagging one’s own comment (422) and a tombstone (422)', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'mine', rating: 5 });
    const own = await flag(c.id, 'author');
    expect(own.status).toBe(422);
    expect(own.body.error.code).toBe('OWN_COMMENT_FLAG');
    await post('replier', { productId, text: 'r', parentId: c.id });
    await asUser('author').delete(`/api/comments/${c.id}`).expect(204);
    const tomb = await flag(c.id, 'someone');
    expect(tomb.status).toBe(422);
    expect(tomb.body.error.code).toBe('COMMENT_DELETED');
    expect(await h.count('flags', { commentId: c.id })).toBe(0);
  });

  it('validates the body and needs authentication (nothing written)', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'x', rating: 5 });
    for (const body of [
      {},
      { reason: '' },
      { reason: 'x'.repeat(501) },
      { reason: 'ok', extra: 1 },
    ]) {
      const res = await asUser('v').post(`/api/comments/${c.id}/flag`).send(body);
      expect(res.status).toBe(400);
    }
    const anon = await h.http().post(`/api/comments/${c.id}/flag`).send({ reason: 'spam' });
    expect(anon.status).toBe(401);
    const missing = await flag('c'.repeat(24), 'v');
    expect(missing.status).toBe(404);
    expect(await h.count('flags', { commentId: c.id })).toBe(0);
  });
});

describe('PUT /api/comments/:id/moderate', () => {
  /** A comment 3 flags put in the queue, then a moderator hid. */
  async function hiddenComment() {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'borderline', rating: 3 });
    for (const f of ['m1', 'm2', 'm3']) await flag(c.id, f);
    await moderate(c.id, 'hide').expect(200);
    return { productId, id: c.id };
  }

  it('approve makes a hidden comment visible again and restarts the flag count', async () => {
    const { productId, id } = await hiddenComment();
    expect(await listIds(productId)).toEqual([]);
    const res = await moderate(id, 'approve');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, action: 'approve', outcome: 'visible' });
    expect(res.body.comment.moderation).toEqual({
      flags: 3,
      flagsSinceReview: 0,
      trustedFlagsSinceReview: 0,
      hiddenReason: null,
      queuedAt: null,
    });
    expect((await listIds(productId)).map((x) => x.id)).toEqual([id]);
    // Two new flags do not queue it again after an approval; the third new one does.
    await flag(id, 'm4');
    await flag(id, 'm5');
    const view = async () => (await asAdmin().get(`/api/comments/${id}`)).body.moderation;
    expect((await view()).queuedAt).toBeNull();
    expect((await flag(id, 'm6')).body.hidden).toBe(false);
    expect((await view()).queuedAt).toEqual(expect.any(String));
    expect((await listIds(productId)).map((x) => x.id)).toEqual([id]);
  });

  it('hide hides a visible comment at once', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'hide me', rating: 2 });
    const res = await moderate(c.id, 'hide');
    expect(res.status).toBe(200);
    expect(res.body.comment).toMatchObject({
      status: 'HIDDEN',
      moderation: { hiddenReason: 'moderator' },
    });
    expect(await listIds(productId)).toEqual([]);
  });

  it('remove deletes (or tombstones) the comment', async () => {
    const { productId, id } = await hiddenComment();
    const res = await moderate(id, 'remove');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id, action: 'remove', outcome: 'removed', comment: null });
    expect(await h.count('comments', { productId })).toBe(0);
    expect(await h.count('flags', { productId })).toBe(0);

    const root = await post('author2', { productId, text: 'thread root', rating: 4 });
    await post('replier', { productId, text: 'reply', parentId: root.id });
    const tomb = await moderate(root.id, 'remove');
    expect(tomb.body).toMatchObject({
      outcome: 'tombstoned',
      comment: { deleted: true, text: null },
    });
  });

  it('is for admins only, validates the action, and 404s unknown comments', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'x', rating: 5 });
    const customer = await asUser('author')
      .put(`/api/comments/${c.id}/moderate`)
      .send({ action: 'hide' });
    expect(customer.status).toBe(403);
    const anon = await h.http().put(`/api/comments/${c.id}/moderate`).send({ action: 'hide' });
    expect(anon.status).toBe(401);
    for (const body of [{}, { action: 'ban' }, { action: 'hide', extra: true }]) {
      const res = await asAdmin().put(`/api/comments/${c.id}/moderate`).send(body);
      expect(res.status).toBe(400);
    }
    const missing = await asAdmin()
      .put(`/api/comments/${'d'.repeat(24)}/moderate`)
      .send({ action: 'hide' });
    expect(missing.status).toBe(404);
    const view = await h.http().get(`/api/comments/${c.id}`);
    expect(view.body.status).toBe('VISIBLE');
  });
});

describe('GET /api/comments/moderation/queue', () => {
  it('lists queued comments with their recent flags, for admins only', async () => {
    const productId = h.products.add();
    const c = await post('queued-author', { productId, text: 'queue me', rating: 1 });
    for (const [user, reason] of [
      ['q1', 'spam'],
      ['q2', 'rude'],
      ['q3', 'off-topic'],
    ]) {
      await flag(c.id, user!, reason);
    }
    const res = await asAdmin().get('/api/comments/moderation/queue?limit=100');
    expect(res.status).toBe(200);
    const entry = res.body.items.find((x: { id: string }) => x.id === c.id);
    expect(entry).toMatchObject({ status: 'VISIBLE', text: 'queue me', moderation: { flags: 3 } });
    expect(entry.recentFlags.map((f: { reason: string }) => f.reason).sort()).toEqual([
      'off-topic',
      'rude',
      'spam',
    ]);
    expect(
      res.body.items.every(
        (x: { moderation: { queuedAt: string | null } }) => x.moderation.queuedAt,
      ),
    ).toBe(true);
    expect(res.body).toMatchObject({ page: 1, limit: 100, total: res.body.items.length });
    expect(Object.keys(res.body).sort()).toEqual(['items', 'limit', 'page', 'total', 'totalPages']);

    // Approved comments leave the queue.
    await moderate(c.id, 'approve').expect(200);
    const after = await asAdmin().get('/api/comments/moderation/queue?limit=100');
    expect(after.body.items.map((x: { id: string }) => x.id)).not.toContain(c.id);

    expect((await asUser('q1').get('/api/comments/moderation/queue')).status).toBe(403);
    expect((await h.http().get('/api/comments/moderation/queue')).status).toBe(401);
    expect((await asAdmin().get('/api/comments/moderation/queue?limit=0')).status).toBe(400);
  });
});

describe('helpful votes', () => {
  it('counts one vote per user; a vote can be withdrawn', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'useful', rating: 5 });
    const v1 = await asUser('voter-1').post(`/api/comments/${c.id}/helpful`);
    expect(v1.status).toBe(201);
    expect(v1.headers.location).toBe(`/api/comments/${c.id}/helpful`);
    expect(v1.body).toEqual({ commentId: c.id, helpfulCount: 1 });
    const dup = await asUser('voter-1').post(`/api/comments/${c.id}/helpful`);
    expect(dup.status).toBe(409);
    await asUser('voter-2').post(`/api/comments/${c.id}/helpful`).expect(201);
    expect((await h.http().get(`/api/comments/${c.id}`)).body.helpfulCount).toBe(2);
    const undo = await asUser('voter-1').delete(`/api/comments/${c.id}/helpful`);
    expect(undo.status).toBe(204);
    expect(undo.text).toBe('');
    expect((await h.http().get(`/api/comments/${c.id}`)).body.helpfulCount).toBe(1);
    const undoAgain = await asUser('voter-1').delete(`/api/comments/${c.id}/helpful`);
    expect(undoAgain.status).toBe(404);
    expect((await h.http().get(`/api/comments/${c.id}`)).body.helpfulCount).toBe(1);
  });

  it('refuses votes on one’s own comment and without authentication', async () => {
    const productId = h.products.add();
    const c = await post('author', { productId, text: 'me', rating: 5 });
    const own = await asUser('author').post(`/api/comments/${c.id}/helpful`);
    expect(own.status).toBe(422);
    const anon = await h.http().post(`/api/comments/${c.id}/helpful`);
    expect(anon.status).toBe(401);
    expect((await h.http().get(`/api/comments/${c.id}`)).body.helpfulCount).toBe(0);
  });
});

describe('the API spec', () => {
  it('describes every answer as the service gives it', async () => {
    const productId = h.products.add();
    const c = await post('spec-author', { productId, text: 'spec', rating: 4 });
    await post('spec-replier', { productId, text: 'reply', parentId: c.id });
    const ops = commentsApi.operations;
    const answers: Array<[keyof typeof ops, { status: number; body: unknown }]> = [
      ['getComment', await asAdmin().get(`/api/comments/${c.id}`)],
      ['listProductComments', await h.http().get(`/api/comments/product/${productId}`)],
      ['markHelpful', await asUser('spec-v').post(`/api/comments/${c.id}/helpful`)],
    ];
    // The third flag queues it.
    for (const f of ['spec-f1', 'spec-f2', 'spec-f3']) {
      answers.push(['flagComment', await flag(c.id, f)]);
    }
    answers.push([
      'moderationQueue',
      await asAdmin().get('/api/comments/moderation/queue?limit=100'),
    ]);
    answers.push(['moderateComment', await moderate(c.id, 'approve')]);
    answers.push([
      'editComment',
      await asUser('spec-author').put(`/api/comments/${c.id}`).send({ rating: 2 }),
    ]);
    for (const [id, res] of answers) {
      const { status, schema, list }: ResponseSpec = ops[id].response;
      expect([id, res.status]).toEqual([id, status]);
      const { error } = (list ? pageSchema(schema!) : schema!).validate(res.body);
      expect([id, error?.message]).toEqual([id, undefined]);
    }
  });
});
