import type { EventEnvelope } from '@ecom/common/bus';
import { envelope, startHarness, type Harness } from './harness';

/**
 * Issue 19 item 8: a handful of fresh accounts must not be able to hide a review. Flags queue a
 * review for moderators (it stays visible); only trusted weight (accounts older than
 * FLAG_TRUSTED_ACCOUNT_AGE_DAYS whose flags moderators have not mostly rejected) hides it.
 * Defaults throughout: FLAG_REVIEW_THRESHOLD 3, FLAG_HIDE_THRESHOLD 5 trusted flags, 30 days.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('comments_flag_weighting');
});
afterAll(async () => {
  await h.stop();
});

const DAY = 24 * 60 * 60 * 1000;
let seq = 0;
/** A unique user id (the file's users never collide with one another's history). */
const user = (label: string) => `${label}-${(seq += 1)}`;
const users = (label: string, n: number) => Array.from({ length: n }, () => user(label));

const asUser = (userId: string, role: 'customer' | 'admin' = 'customer') =>
  h.http(h.token(userId, role));
const asAdmin = () => asUser('moderator-1', 'admin');
const moderate = (id: string, action: string) =>
  asAdmin().put(`/api/comments/${id}/moderate`).send({ action });
const flag = (commentId: string, userId: string, reason = 'spam') =>
  asUser(userId).post(`/api/comments/${commentId}/flag`).send({ reason });

/** Accounts as auth announces them: user.created stamped when each account was made. */
async function accountsCreated(ids: string[], daysAgo: number): Promise<void> {
  for (const userId of ids) {
    await h.bus.publish({
      ...envelope('user.created', {
        userId,
        email: `${userId}@x.test`,
        name: userId,
        role: 'customer',
      }),
      timestamp: new Date(Date.now() - daysAgo * DAY).toISOString(),
    });
  }
  await h.settle();
}

async function review(text = 'Honest one-star review: it broke in a week.') {
  const productId = h.products.add();
  const res = await asUser(user('author'))
    .post('/api/comments')
    .send({ productId, text, rating: 1 });
  expect(res.status).toBe(201);
  return { productId, id: res.body.id as string, text };
}

async function flagAll(commentId: string, flaggers: string[]) {
  const answers = [];
  for (const f of flaggers) {
    const res = await flag(commentId, f);
    expect(res.status).toBe(201);
    answers.push(res.body as { hidden: boolean });
  }
  return answers;
}

/** What an anonymous reader gets for the comment and for its product's list. */
async function anonymousView(c: { productId: string; id: string }) {
  const one = await h.http().get(`/api/comments/${c.id}`);
  const list = await h.http().get(`/api/comments/product/${c.productId}`);
  expect(list.status).toBe(200);
  return {
    status: one.status,
    body: one.body,
    listed: (list.body.items as Array<{ id: string }>).some((x) => x.id === c.id),
  };
}

type QueueEntry = {
  id: string;
  status: string;
  moderation: Record<string, unknown>;
  recentFlags: Array<{ userId: string; reason: string; trusted: boolean }>;
};

async function queued(commentId: string): Promise<QueueEntry | undefined> {
  const res = await asAdmin().get('/api/comments/moderation/queue?limit=100');
  expect(res.status).toBe(200);
  return (res.body.items as QueueEntry[]).find((x) => x.id === commentId);
}

async function flaggedEvents(commentId: string): Promise<EventEnvelope[]> {
  await h.settle();
  return h.published.filter(
    (e) =>
      e.eventType === 'comment.flagged' &&
      (e.data as { commentId?: string }).commentId === commentId,
  );
}

describe('flags from fresh accounts', () => {
  it('five fresh accounts flagging a review do not hide it from anonymous readers', async () => {
    const c = await review();
    // Two of them are known (created today), three were never announced at all.
    const known = users('fresh-known', 2);
    await accountsCreated(known, 0);
    const answers = await flagAll(c.id, [...known, ...users('fresh', 3)]);
    expect(answers.map((a) => a.hidden)).toEqual([false, false, false, false, false]);

    const seen = await anonymousView(c);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ status: 'VISIBLE', text: c.text });
    expect(seen.listed).toBe(true);
    // Nor do they stop counting in the product's rating (product reads `hidden`).
    const events = await flaggedEvents(c.id);
    expect(events.map((e) => (e.data as { hidden: boolean }).hidden)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('one account cannot flag twice, even concurrently', async () => {
    const c = await review();
    const racer = user('racer');
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => flag(c.id, racer)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect((await flag(c.id, racer, 'another reason')).status).toBe(409);
    expect(await h.count('flags', { userId: racer })).toBe(1);
    const adminView = await asAdmin().get(`/api/comments/${c.id}`);
    expect(adminView.body.moderation).toMatchObject({ flags: 1, flagsSinceReview: 1 });
    expect(await queued(c.id)).toBeUndefined();
  });
});

describe('the moderation queue', () => {
  it('holds a review once it crosses the flag threshold, while readers still see it', async () => {
    const c = await review();
    const [f1, f2, f3] = users('q', 3) as [string, string, string];
    await flagAll(c.id, [f1, f2]);
    expect(await queued(c.id)).toBeUndefined();
    await flag(c.id, f3, 'rude').expect(201);

    const entry = await queued(c.id);
    expect(entry).toMatchObject({
      id: c.id,
      status: 'VISIBLE',
      moderation: {
        flags: 3,
        flagsSinceReview: 3,
        trustedFlagsSinceReview: 0,
        hiddenReason: null,
      },
    });
    expect(typeof entry!.moderation.queuedAt).toBe('string');
    expect(entry!.recentFlags.map((f) => [f.userId, f.reason, f.trusted]).sort()).toEqual(
      [
        [f1, 'spam', false],
        [f2, 'spam', false],
        [f3, 'rude', false],
      ].sort(),
    );
    expect((await anonymousView(c)).status).toBe(200);
    // Customers never see the queue.
    expect((await asUser(f1).get('/api/comments/moderation/queue')).status).toBe(403);
  });

  it('a moderator’s remove takes the review down and out of the queue', async () => {
    const c = await review();
    await flagAll(c.id, users('rm', 3));
    expect(await queued(c.id)).toMatchObject({ status: 'VISIBLE' });
    expect((await anonymousView(c)).status).toBe(200);
    const res = await moderate(c.id, 'remove');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: c.id, action: 'remove', outcome: 'removed' });
    const seen = await anonymousView(c);
    expect(seen.status).toBe(404);
    expect(seen.listed).toBe(false);
    expect(await queued(c.id)).toBeUndefined();
    await h.settle();
    expect(
      h.published.some(
        (e) =>
          e.eventType === 'comment.deleted' && (e.data as { commentId: string }).commentId === c.id,
      ),
    ).toBe(true);
  });

  it('approve clears the queue; the same accounts cannot re-queue it, new ones can', async () => {
    const c = await review();
    const first = users('ap', 3);
    await flagAll(c.id, first);
    const res = await moderate(c.id, 'approve');
    expect(res.status).toBe(200);
    expect(res.body.comment.moderation).toMatchObject({
      flags: 3,
      flagsSinceReview: 0,
      trustedFlagsSinceReview: 0,
      queuedAt: null,
    });
    expect(await queued(c.id)).toBeUndefined();
    expect((await anonymousView(c)).status).toBe(200);

    // Each account has had its say: flagging again is refused and changes nothing.
    for (const f of first) expect((await flag(c.id, f)).status).toBe(409);
    expect(await queued(c.id)).toBeUndefined();
    // The approval answers the flags so far, not future ones: three new flaggers queue it again.
    await flagAll(c.id, users('ap-new', 3));
    expect(await queued(c.id)).toMatchObject({ status: 'VISIBLE' });
    expect((await anonymousView(c)).status).toBe(200);
  });
});

describe('trusted weight', () => {
  it('hides a review only once FLAG_HIDE_THRESHOLD flags from established accounts agree', async () => {
    const c = await review();
    const established = users('old', 5);
    await accountsCreated(established, 60);
    // Ten fresh accounts and four established ones: queued, still visible.
    await flagAll(c.id, users('swarm', 10));
    const answers = await flagAll(c.id, established.slice(0, 4));
    expect(answers.every((a) => !a.hidden)).toBe(true);
    expect((await anonymousView(c)).status).toBe(200);
    expect(await queued(c.id)).toMatchObject({
      status: 'VISIBLE',
      moderation: { flagsSinceReview: 14, trustedFlagsSinceReview: 4 },
    });

    const fifth = await flag(c.id, established[4]!);
    expect(fifth.body).toEqual({ commentId: c.id, flagged: true, hidden: true });
    const seen = await anonymousView(c);
    expect(seen.status).toBe(404);
    expect(seen.listed).toBe(false);
    const entry = await queued(c.id);
    expect(entry).toMatchObject({
      status: 'HIDDEN',
      moderation: { trustedFlagsSinceReview: 5, hiddenReason: 'flags' },
    });
    expect(
      entry!.recentFlags
        .filter((f) => f.trusted)
        .map((f) => f.userId)
        .sort(),
    ).toEqual(established.slice().sort());
    expect((await flaggedEvents(c.id)).at(-1)!.data).toMatchObject({ flags: 15, hidden: true });
  });

  it('an account younger than FLAG_TRUSTED_ACCOUNT_AGE_DAYS carries no trusted weight', async () => {
    const c = await review();
    const young = users('young', 5);
    await accountsCreated(young, 29);
    await flagAll(c.id, young);
    expect((await anonymousView(c)).status).toBe(200);
    expect((await queued(c.id))!.moderation).toMatchObject({ trustedFlagsSinceReview: 0 });
  });

  it('flaggers whose flags moderators rejected lose trusted weight until one is upheld', async () => {
    const gang = users('gang', 5);
    await accountsCreated(gang, 90);
    // Their first campaign hides a review; a moderator restores it (their flags: rejected).
    const first = await review();
    const answers = await flagAll(first.id, gang);
    expect(answers.at(-1)!.hidden).toBe(true);
    await moderate(first.id, 'approve').expect(200);
    expect((await anonymousView(first)).status).toBe(200);

    // Their next one only queues the review.
    const second = await review();
    expect((await flagAll(second.id, gang)).every((a) => !a.hidden)).toBe(true);
    expect((await anonymousView(second)).status).toBe(200);
    expect(await queued(second.id)).toMatchObject({
      status: 'VISIBLE',
      moderation: { trustedFlagsSinceReview: 0 },
    });

    // This time the moderator agrees and removes it: one rejected, one upheld each.
    await moderate(second.id, 'remove').expect(200);
    const third = await review();
    expect((await flagAll(third.id, gang)).at(-1)!.hidden).toBe(true);
  });
});
