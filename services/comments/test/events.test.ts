import type { EventEnvelope } from '@ecom/common/bus';
import { eventually, FlakyBus } from '@ecom/test-support';
import { envelope, startHarness, type Harness } from './harness';

let h: Harness;
let flaky: FlakyBus;
beforeAll(async () => {
  h = await startHarness(
    'comments_events',
    {},
    {
      wrapBus: (bus) => (flaky = new FlakyBus(bus)),
    },
  );
});
afterAll(async () => {
  await h.stop();
});

/** Requests as `userId` (a customer unless `role` says otherwise). */
const asUser = (userId: string, role: 'customer' | 'admin' = 'customer') =>
  h.http(h.token(userId, role));

/** POST /api/comments as the customer `userId`, whatever the answer. */
const postComment = (userId: string, body: Record<string, unknown>) =>
  asUser(userId).post('/api/comments').send(body);

async function post(userId: string, body: Record<string, unknown>, headers = {}) {
  const res = await asUser(userId).post('/api/comments').set(headers).send(body);
  expect(res.status).toBe(201);
  return res.body as { id: string };
}

async function eventsFor(commentId: string): Promise<EventEnvelope[]> {
  await h.settle();
  return h.published.filter((e) => (e.data as { commentId?: string }).commentId === commentId);
}

describe('published events', () => {
  it('comment.created for a review and a reply, with the request’s correlation id', async () => {
    const productId = h.products.add();
    const correlationId = 'corr-created-12345';
    const review = await post(
      'alice',
      { productId, text: 'r', rating: 4 },
      { 'x-correlation-id': correlationId },
    );
    const reply = await post('bob', { productId, text: 'reply', parentId: review.id });
    const [created] = await eventsFor(review.id);
    expect(created).toMatchObject({
      eventType: 'comment.created',
      source: 'comments-service',
      version: '1.0',
      metadata: { correlationId },
    });
    expect(created!.data).toEqual({
      commentId: review.id,
      productId,
      userId: 'alice',
      rating: 4,
      parentId: null,
    });
    const [replyEvent] = await eventsFor(reply.id);
    expect(replyEvent!.data).toEqual({
      commentId: reply.id,
      productId,
      userId: 'bob',
      rating: null,
      parentId: review.id,
    });
  });

  it('comment.updated carries the new and previous rating', async () => {
    const productId = h.products.add();
    const c = await post('alice', { productId, text: 'r', rating: 2 });
    await asUser('alice').put(`/api/comments/${c.id}`).send({ rating: 5 }).expect(200);
    await asUser('alice').put(`/api/comments/${c.id}`).send({ text: 'only text' }).expect(200);
    const updates = (await eventsFor(c.id)).filter((e) => e.eventType === 'comment.updated');
    expect(updates.map((e) => e.data)).toEqual([
      { commentId: c.id, productId, rating: 5, previousRating: 2 },
      { commentId: c.id, productId, rating: 5, previousRating: 5 },
    ]);
  });

  it('comment.deleted carries the rating removed, for removals and tombstones alike', async () => {
    const productId = h.products.add();
    const leaf = await post('alice', { productId, text: 'r', rating: 3 });
    await asUser('alice').delete(`/api/comments/${leaf.id}`).expect(204);
    const root = await post('carol', { productId, text: 'r', rating: 1 });
    await post('bob', { productId, text: 'reply', parentId: root.id });
    await asUser('adm', 'admin')
      .put(`/api/comments/${root.id}/moderate`)
      .send({ action: 'remove' })
      .expect(200);
    const leafDeleted = (await eventsFor(leaf.id)).find((e) => e.eventType === 'comment.deleted');
    expect(leafDeleted!.data).toEqual({ commentId: leaf.id, productId, rating: 3 });
    const rootDeleted = (await eventsFor(root.id)).filter((e) => e.eventType === 'comment.deleted');
    expect(rootDeleted.map((e) => e.data)).toEqual([{ commentId: root.id, productId, rating: 1 }]);
  });

  it('comment.flagged reports the count and whether the comment is hidden', async () => {
    const productId = h.products.add();
    const c = await post('alice', { productId, text: 'r', rating: 3 });
    // Flags from unknown accounts queue it for a moderator but leave it visible.
    for (const f of ['f1', 'f2', 'f3']) {
      await asUser(f).post(`/api/comments/${c.id}/flag`).send({ reason: 'spam' }).expect(201);
    }
    for (const action of ['hide', 'approve']) {
      await asUser('adm', 'admin')
        .put(`/api/comments/${c.id}/moderate`)
        .send({ action })
        .expect(200);
    }
    const flagged = (await eventsFor(c.id)).filter((e) => e.eventType === 'comment.flagged');
    expect(flagged.map((e) => e.data)).toEqual([
      { commentId: c.id, productId, flags: 1, hidden: false },
      { commentId: c.id, productId, flags: 2, hidden: false },
      { commentId: c.id, productId, flags: 3, hidden: false },
      { commentId: c.id, productId, flags: 3, hidden: true },
      { commentId: c.id, productId, flags: 3, hidden: false },
    ]);
  });

  it('publishes nothing for refused requests', async () => {
    const productId = h.products.add();
    await h.settle();
    const before = h.published.length;
    await postComment('alice', { productId, text: '' }).expect(400);
    await postComment('alice', { productId: 'unknown1', text: 'x', rating: 2 }).expect(404);
    await h.settle();
    expect(h.published.length).toBe(before);
  });

  it('keeps an event the bus refused in the outbox and sends it once the bus is back', async () => {
    const productId = h.products.add();
    flaky.down = true;
    let c: { id: string };
    try {
      c = await post('alice', { productId, text: 'while the broker is down', rating: 5 });
      await h.settle();
      expect(await eventsFor(c.id)).toEqual([]);
      expect(await h.count('outbox', { sentAt: null, 'event.data.commentId': c.id })).toBe(1);
    } finally {
      flaky.down = false;
    }
    // The relay retries on its interval once the row is due.
    const sent = await eventually(async () => {
      const events = await eventsFor(c.id);
      return events.length > 0 ? events : undefined;
    });
    expect(sent.map((e) => e.eventType)).toEqual(['comment.created']);
    // Sent marks wait up to a window to share one update, so the mark may trail the event.
    await eventually(
      async () => (await h.count('outbox', { sentAt: null, 'event.data.commentId': c.id })) === 0,
      { what: 'the outbox row marked sent' },
    );
  });
});

describe('consumed events', () => {
  it('product.deleted removes the product’s comments, flags and votes, once', async () => {
    const doomed = h.products.add();
    const kept = h.products.add();
    const r = await post('alice', { productId: doomed, text: 'r', rating: 5 });
    await post('bob', { productId: doomed, text: 'reply', parentId: r.id });
    await asUser('carol').post(`/api/comments/${r.id}/flag`).send({ reason: 'x' }).expect(201);
    await asUser('carol').post(`/api/comments/${r.id}/helpful`).expect(201);
    const other = await post('alice', { productId: kept, text: 'stays', rating: 4 });

    const event = envelope('product.deleted', { productId: doomed });
    await h.bus.publish(event);
    await h.settle();
    expect(await h.count('comments', { productId: doomed })).toBe(0);
    expect(await h.count('flags', { productId: doomed })).toBe(0);
    expect(await h.count('helpful_votes', { productId: doomed })).toBe(0);
    expect((await h.http().get(`/api/comments/${other.id}`)).status).toBe(200);

    // Redelivery is recognised; a new comment for the deleted product is refused even
    // though the product service still answers (its deletion may not have propagated).
    await h.bus.publish(event);
    await h.settle();
    expect(await h.count('processed_events', { eventId: event.eventId })).toBe(1);
    const late = await postComment('dave', { productId: doomed, text: 'late', rating: 3 });
    expect(late.status).toBe(404);
    expect(await h.count('comments', { productId: doomed })).toBe(0);
    expect(h.bus.deadLetters).toEqual([]);
  });

  it('a comment whose outbox row cannot be written is not kept, and no event is sent', async () => {
    const productId = h.products.add();
    const outbox = h.service.connection.models.MongoOutbox_outbox;
    // The outbox writes its row through the driver (the model's collection, the same object).
    const failing = jest
      .spyOn(outbox.collection, 'insertOne')
      .mockRejectedValueOnce(new Error('outbox insert failed'));
    try {
      const res = await postComment('olga', { productId, text: 'atomic', rating: 5 });
      expect(res.status).toBe(500);
      expect(res.body.error.message).not.toMatch(/outbox insert failed/);
    } finally {
      failing.mockRestore();
    }
    expect(await h.count('comments', { productId })).toBe(0);
    await h.settle();
    expect(
      h.published.filter((e) => (e.data as { productId?: string }).productId === productId),
    ).toEqual([]);
    // Nothing half-done is left behind: the same review goes through now.
    expect((await postComment('olga', { productId, text: 'atomic', rating: 5 })).status).toBe(201);
  });

  it('product.deleted handled while a comment is being written: the comment is withdrawn', async () => {
    const productId = h.products.add();
    // The product service answers "exists" only after the deletion event has been handled.
    h.products.beforeAnswer = async () => {
      h.products.beforeAnswer = undefined;
      await h.bus.publish(envelope('product.deleted', { productId }));
      await h.settle();
    };
    const res = await postComment('erin', { productId, text: 'race', rating: 4 });
    expect(res.status).toBe(404);
    expect(await h.count('comments', { productId })).toBe(0);
    await h.settle();
    // The comment and its event committed together, then both were taken back: consumers
    // (the rating aggregate) see it come and go.
    const seen = h.published.filter(
      (e) => (e.data as { productId?: string }).productId === productId,
    );
    expect(seen.map((e) => e.eventType)).toEqual(['comment.created', 'comment.deleted']);
    expect(seen[1].data).toEqual({
      commentId: (seen[0].data as { commentId: string }).commentId,
      productId,
      rating: 4,
    });
  });

  it('user.deleted anonymises the user’s comments and drops their flags and votes', async () => {
    const productId = h.products.add();
    const mine = await post('leaver', { productId, text: 'my review', rating: 5 });
    const theirs = await post('stayer', { productId, text: 'other review', rating: 4 });
    const myReply = await post('leaver', { productId, text: 'my reply', parentId: theirs.id });
    await asUser('leaver').post(`/api/comments/${theirs.id}/helpful`).expect(201);
    await asUser('leaver')
      .post(`/api/comments/${theirs.id}/flag`)
      .send({ reason: 'x' })
      .expect(201);
    // A moderator's answer to that flag starts the leaver's flag record.
    await asUser('adm', 'admin')
      .put(`/api/comments/${theirs.id}/moderate`)
      .send({ action: 'approve' })
      .expect(200);
    expect(await h.count('flagger_records', { _id: 'leaver' })).toBe(1);

    const event = envelope('user.deleted', { userId: 'leaver' });
    await h.bus.publish(event);
    await h.bus.publish(event);
    await h.settle();
    for (const id of [mine.id, myReply.id]) {
      const c = (await h.http().get(`/api/comments/${id}`)).body;
      expect(c.author).toEqual({ id: null, name: 'Deleted user' });
    }
    expect((await h.http().get(`/api/comments/${mine.id}`)).body.text).toBe('my review');
    expect(await h.count('comments', { authorId: 'leaver' })).toBe(0);
    expect(await h.count('helpful_votes', { userId: 'leaver' })).toBe(0);
    expect(await h.count('flags', { userId: 'leaver' })).toBe(0);
    expect(await h.count('flagger_records', { _id: 'leaver' })).toBe(0);
    // Counts stay; the other author is untouched; nobody can edit the orphaned review.
    const other = (await h.http().get(`/api/comments/${theirs.id}`)).body;
    expect(other).toMatchObject({ helpfulCount: 1, author: { id: 'stayer' } });
    const edit = await asUser('leaver').put(`/api/comments/${mine.id}`).send({ text: 'x' });
    expect(edit.status).toBe(403);
    expect(await h.count('processed_events', { eventId: event.eventId })).toBe(1);
  });

  it('after user.deleted, that user’s still-valid token can no longer write', async () => {
    const productId = h.products.add();
    const other = await post('someone', { productId, text: 'target', rating: 4 });
    await h.bus.publish(envelope('user.deleted', { userId: 'gone' }));
    await h.settle();
    const before = await h.count('comments');
    const review = await postComment('gone', { productId, text: 'from beyond', rating: 1 });
    expect(review.status).toBe(403);
    expect(review.body.error.details).toEqual({ reason: 'account_deleted' });
    const flag = await asUser('gone').post(`/api/comments/${other.id}/flag`).send({ reason: 'x' });
    expect(flag.status).toBe(403);
    const vote = await asUser('gone').post(`/api/comments/${other.id}/helpful`);
    expect(vote.status).toBe(403);
    expect(await h.count('comments')).toBe(before);
    expect(await h.count('flags', { userId: 'gone' })).toBe(0);
    expect(await h.count('helpful_votes', { userId: 'gone' })).toBe(0);
    // A late user.updated does not bring the account back.
    await h.bus.publish(
      envelope('user.updated', {
        userId: 'gone',
        email: 'g@x.test',
        name: 'Ghost',
        role: 'customer',
      }),
    );
    await h.settle();
    const again = await postComment('gone', { productId, text: 'still gone', rating: 1 });
    expect(again.status).toBe(403);
  });

  it('user.deleted handled while that user writes a comment: the comment is withdrawn', async () => {
    const productId = h.products.add();
    h.products.beforeAnswer = async () => {
      h.products.beforeAnswer = undefined;
      await h.bus.publish(envelope('user.deleted', { userId: 'racer' }));
      await h.settle();
    };
    const res = await postComment('racer', { productId, text: 'race', rating: 4 });
    expect(res.status).toBe(403);
    expect(await h.count('comments', { productId })).toBe(0);
    await h.settle();
    expect(
      h.published
        .filter((e) => (e.data as { productId?: string }).productId === productId)
        .map((e) => e.eventType),
    ).toEqual(['comment.created', 'comment.deleted']);
  });

  it('user.created / user.updated set the author name; an older event never overwrites a newer one', async () => {
    const productId = h.products.add();
    await h.bus.publish(
      envelope('user.created', {
        userId: 'named',
        email: 'n@x.test',
        name: 'Nora',
        role: 'customer',
      }),
    );
    await h.settle();
    const c = await post('named', { productId, text: 'hi', rating: 5 });
    expect((await h.http().get(`/api/comments/${c.id}`)).body.author).toEqual({
      id: 'named',
      name: 'Nora',
    });

    const newer = envelope('user.updated', {
      userId: 'named',
      email: 'n@x.test',
      name: 'Nora B.',
      role: 'customer',
    });
    const older = {
      ...envelope('user.updated', {
        userId: 'named',
        email: 'n@x.test',
        name: 'Stale',
        role: 'customer',
      }),
      timestamp: new Date(Date.now() - 60_000).toISOString(),
    };
    await h.bus.publish(newer);
    await h.settle();
    await h.bus.publish(older);
    await h.settle();
    expect((await h.http().get(`/api/comments/${c.id}`)).body.author).toEqual({
      id: 'named',
      name: 'Nora B.',
    });
  });

  it('user.created / user.updated date the account: the earliest event time seen, in any order', async () => {
    const users = h.service.connection.collection<{ _id: string; since?: Date }>('users');
    const base = Date.now();
    const daysAgo = (d: number) => new Date(base - d * 24 * 60 * 60 * 1000);
    const at = (event: ReturnType<typeof envelope>, when: Date) => ({
      ...event,
      timestamp: when.toISOString(),
    });
    const data = (userId: string, name: string) => ({
      userId,
      email: `${userId}@x.test`,
      name,
      role: 'customer',
    });
    // A user.updated overtakes the user.created: the creation time still wins.
    await h.bus.publish(at(envelope('user.updated', data('dated', 'New')), daysAgo(10)));
    await h.settle();
    await h.bus.publish(at(envelope('user.created', data('dated', 'Old')), daysAgo(40)));
    await h.settle();
    // (the name stays the newer event's)
    expect(await users.findOne({ _id: 'dated' })).toMatchObject({
      name: 'New',
      since: daysAgo(40),
    });

    // A user stored by an earlier version has only asOf: an upper bound of its creation too.
    await users.insertOne({ _id: 'legacy', name: 'L', asOf: daysAgo(50) } as never);
    await h.bus.publish(envelope('user.updated', data('legacy', 'L2')));
    await h.settle();
    expect(await users.findOne({ _id: 'legacy' })).toMatchObject({
      name: 'L2',
      since: daysAgo(50),
    });
  });

  it('dead-letters an event whose data breaks its contract at once, changing nothing', async () => {
    const productId = h.products.add();
    await post('alice', { productId, text: 'x', rating: 5 });
    const before = h.bus.deadLetters.length;
    const event = envelope('product.deleted', { productId: { $ne: null } });
    await h.bus.publish(event);
    await h.settle();
    expect(h.bus.deadLetters.length).toBe(before + 1);
    expect(h.bus.deadLetters.at(-1)).toMatchObject({
      group: 'comments',
      reason: 'invalid product.deleted payload: productId: string.base',
      attempts: 1,
    });
    const metrics = await h.http().get('/metrics');
    expect(metrics.text).toMatch(
      /events_dead_lettered_total\{group="comments",event_type="product.deleted"[^}]*\} 1\n/,
    );
    // Never handled: no processed marker, nothing removed.
    expect(await h.count('processed_events', { eventId: event.eventId })).toBe(0);
    expect(await h.count('comments', { productId })).toBe(1);
  });
});
