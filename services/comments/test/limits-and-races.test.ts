import { Types } from 'mongoose';
import { envelope, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  // Small limits, to show the configuration is what the service enforces.
  h = await startHarness('comments_limits', {
    FLAG_REVIEW_THRESHOLD: '1',
    FLAG_HIDE_THRESHOLD: '1',
    FLAG_TRUSTED_ACCOUNT_AGE_DAYS: '0',
    MAX_THREAD_DEPTH: '1',
    COMMENT_MAX_LENGTH: '10',
    MAX_REPLIES_PER_PAGE: '2',
  });
});
afterAll(async () => {
  await h.stop();
});

/** Requests as the customer `userId`. */
const asUser = (userId: string) => h.http(h.token(userId));

async function post(userId: string, body: Record<string, unknown>) {
  return asUser(userId).post('/api/comments').send(body);
}

describe('configured limits', () => {
  it('enforces COMMENT_MAX_LENGTH, MAX_THREAD_DEPTH and the FLAG_* settings', async () => {
    const productId = h.products.add();
    expect((await post('a', { productId, text: '12345678901', rating: 5 })).status).toBe(400);
    const root = await post('a', { productId, text: '1234567890', rating: 5 });
    expect(root.status).toBe(201);
    const r1 = await post('b', { productId, text: 'reply', parentId: root.body.id });
    expect(r1.status).toBe(201);
    const r2 = await post('c', { productId, text: 'deeper', parentId: r1.body.id });
    expect(r2.status).toBe(422);
    expect(r2.body.error.details).toMatchObject({ maxDepth: 1 });
    // An account this service never heard of: one flag queues (FLAG_REVIEW_THRESHOLD), no more.
    const queued = await asUser('d')
      .post(`/api/comments/${root.body.id}/flag`)
      .send({ reason: 'one is enough to queue' });
    expect(queued.body.hidden).toBe(false);
    const admin = h.http(h.token('adm', 'admin'));
    const view = await admin.get(`/api/comments/${root.body.id}`);
    expect(view.body.moderation.queuedAt).toEqual(expect.any(String));
    // A known account, of any age (FLAG_TRUSTED_ACCOUNT_AGE_DAYS 0): one flag hides.
    await h.bus.publish(
      envelope('user.created', { userId: 'e', email: 'e@x.test', name: 'E', role: 'customer' }),
    );
    await h.settle();
    const flagged = await asUser('e')
      .post(`/api/comments/${r1.body.id}/flag`)
      .send({ reason: 'one is enough' });
    expect(flagged.body.hidden).toBe(true);
  });

  it('loads at most MAX_REPLIES_PER_PAGE replies with a page, keeping replyCount exact', async () => {
    const productId = h.products.add();
    const root = (await post('a', { productId, text: 'root', rating: 4 })).body;
    for (const u of ['r1', 'r2', 'r3']) {
      expect((await post(u, { productId, text: u, parentId: root.id })).status).toBe(201);
    }
    const list = await h.http().get(`/api/comments/product/${productId}`);
    expect(list.body.items[0].replyCount).toBe(3);
    expect(list.body.items[0].replies.map((r: { text: string }) => r.text)).toEqual(['r1', 'r2']);
  });
});

describe('concurrent delete and reply', () => {
  it('never leaves an orphan reply and keeps reply counts exact', async () => {
    const productId = h.products.add();
    const comments = h.service.connection.collection('comments');
    const outcomes = new Set<string>();
    for (let i = 0; i < 12; i += 1) {
      const parent = (await post(`author${i}`, { productId, text: `p${i}`, rating: 3 })).body;
      const [del, rep] = await Promise.all([
        asUser(`author${i}`).delete(`/api/comments/${parent.id}`),
        post(`replier${i}`, { productId, text: 'race', parentId: parent.id }),
      ]);
      expect(del.status).toBe(204);
      // The delete left a tombstone exactly when the reply got in.
      const left = await comments.findOne({ _id: new Types.ObjectId(parent.id as string) });
      if (rep.status === 201) {
        expect(left).toMatchObject({ status: 'DELETED' });
      } else {
        expect([404, 422]).toContain(rep.status);
        expect(left).toBeNull();
      }
      outcomes.add(`${left ? 'tombstoned' : 'removed'}/${rep.status}`);
    }
    // Every stored reply has its parent, and every parent counts its replies exactly.
    const all = await comments.find({ productId }).toArray();
    const byId = new Map(all.map((c) => [String(c._id), c]));
    for (const c of all) {
      if (c.parentId) expect(byId.has(String(c.parentId as Types.ObjectId))).toBe(true);
      const children = all.filter((x) => x.parentId && String(x.parentId) === String(c._id));
      expect(c.replyCount).toBe(children.length);
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });
});
