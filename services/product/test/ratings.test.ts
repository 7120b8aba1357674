import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { createEvent } from '@ecom/common/bus';
import { bearer, requestsAs } from '@ecom/test-support';
import { seller, startHarness, type Harness } from './support/helpers';

let h: Harness;
let productId: string;

beforeAll(async () => {
  h = await startHarness('product_ratings');
  const res = await request(h.service.app)
    .post('/api/products')
    .set('Authorization', bearer(seller))
    .send({ name: 'Rated', price: 9.99, inventory: 1 });
  productId = res.body.id;
});
afterAll(async () => {
  await h.close();
});

async function rating() {
  const res = await request(h.service.app).get(`/api/products/${productId}`);
  return res.body.rating as { average: number; count: number };
}

describe('rating aggregate from comment events', () => {
  it('counts reviews only, and each review once however often it arrives', async () => {
    await h.deliver('comment.created', {
      commentId: 'c1',
      productId,
      userId: 'u1',
      rating: 5,
      parentId: null,
    });
    expect(await rating()).toEqual({ average: 5, count: 1 });
    const second = createEvent('comments-service', 'comment.created', {
      commentId: 'c2',
      productId,
      userId: 'u2',
      rating: 2,
      parentId: null,
    });
    await h.bus.publish(second);
    await h.bus.publish(second);
    await h.settle();
    // The same review under a new eventId (a republished event) is still one review.
    await h.deliver('comment.created', {
      commentId: 'c2',
      productId,
      userId: 'u2',
      rating: 2,
      parentId: null,
    });
    // A reply carries no rating and is not a review.
    await h.deliver('comment.created', {
      commentId: 'r1',
      productId,
      userId: 'u3',
      rating: null,
      parentId: 'c1',
    });
    expect(await rating()).toEqual({ average: 3.5, count: 2 });
  });

  it('follows updates and deletions, idempotently', async () => {
    await h.deliver('comment.updated', {
      commentId: 'c2',
      productId,
      rating: 4,
      previousRating: 2,
    });
    await h.deliver('comment.updated', {
      commentId: 'c2',
      productId,
      rating: 4,
      previousRating: 2,
    });
    expect(await rating()).toEqual({ average: 4.5, count: 2 });
    await h.deliver('comment.deleted', { commentId: 'c1', productId, rating: 5 });
    await h.deliver('comment.deleted', { commentId: 'c1', productId, rating: 5 });
    expect(await rating()).toEqual({ average: 4, count: 1 });
  });

  it('is not fooled by events out of order', async () => {
    // Deleted before created: the tombstone keeps the late creation from counting.
    await h.deliver('comment.deleted', { commentId: 'c3', productId, rating: 1 });
    await h.deliver('comment.created', {
      commentId: 'c3',
      productId,
      userId: 'u4',
      rating: 1,
      parentId: null,
    });
    // Updated before created: the late creation does not undo the update.
    await h.deliver('comment.updated', {
      commentId: 'c4',
      productId,
      rating: 3,
      previousRating: 5,
    });
    await h.deliver('comment.created', {
      commentId: 'c4',
      productId,
      userId: 'u5',
      rating: 5,
      parentId: null,
    });
    expect(await rating()).toEqual({ average: 3.5, count: 2 });
  });

  it('keeps a correct aggregate when many reviews arrive at once', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.bus.publish(
          createEvent('comments-service', 'comment.created', {
            commentId: `bulk-${i}`,
            productId,
            userId: `b${i}`,
            rating: (i % 5) + 1,
            parentId: null,
          }),
        ),
      ),
    );
    await h.settle();
    // Before: c2=4, c4=3; plus 20 reviews rated 1..5 four times each (sum 60).
    expect(await rating()).toEqual({
      average: Math.round(((4 + 3 + 60) / 22) * 100) / 100,
      count: 22,
    });
    const sorted = await request(h.service.app).get(
      `/api/products?sort=rating&sellerId=${seller.id}`,
    );
    expect(sorted.body.items[0].rating.count).toBe(22);
  });

  it('dead-letters a rating out of range and changes nothing', async () => {
    const before = await rating();
    await h.deliver('comment.created', {
      commentId: 'bad',
      productId,
      userId: 'u',
      rating: 9,
      parentId: null,
    });
    expect(await rating()).toEqual(before);
    expect(
      h.bus.deadLetters.some((d) => d.reason.includes('invalid comment.created payload')),
    ).toBe(true);
  });

  it('ignores reviews of unknown products', async () => {
    await h.deliver('comment.created', {
      commentId: 'x1',
      productId: 'not-a-product',
      userId: 'u',
      rating: 4,
      parentId: null,
    });
    expect(
      h.bus.deadLetters.filter(
        (d) => d.event?.data && (d.event.data as { commentId?: string }).commentId === 'x1',
      ),
    ).toEqual([]);
  });
});

describe('moderation (comment.flagged)', () => {
  async function newProduct(): Promise<string> {
    const res = await requestsAs(() => request(h.service.app), seller)
      .post('/api/products')
      .send({ name: 'Moderated', price: 5, inventory: 1 });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }
  async function ratingOf(id: string) {
    const res = await request(h.service.app).get(`/api/products/${id}`);
    return res.body.rating as { average: number; count: number };
  }
  const review = (productId: string, commentId: string, stars: number) =>
    h.deliver('comment.created', {
      commentId,
      productId,
      userId: `u-${commentId}`,
      rating: stars,
      parentId: null,
    });
  /** A new product with a review per comment id, of that many stars. */
  async function reviewedProduct(reviews: Record<string, number>): Promise<string> {
    const p = await newProduct();
    for (const [commentId, stars] of Object.entries(reviews)) await review(p, commentId, stars);
    return p;
  }
  /** A comment.flagged as comments publishes it, stamped at `at` (ms after a fixed base). */
  const flagged = (productId: string, commentId: string, hidden: boolean, at: number) => ({
    ...createEvent('comments-service', 'comment.flagged', {
      commentId,
      productId,
      flags: 3,
      hidden,
    }),
    timestamp: new Date(Date.UTC(2026, 0, 1) + at).toISOString(),
  });
  async function send(...events: Array<ReturnType<typeof flagged>>) {
    for (const event of events) await h.bus.publish(event);
    await h.settle();
  }

  it('a hidden review stops counting and counts again once approved, idempotently', async () => {
    const p = await reviewedProduct({ m1: 5, m2: 1 });
    expect(await ratingOf(p)).toEqual({ average: 3, count: 2 });

    const hide = flagged(p, 'm2', true, 1000);
    await send(hide, hide);
    expect(await ratingOf(p)).toEqual({ average: 5, count: 1 });
    // The same state republished under a new eventId changes nothing either.
    await send({ ...hide, eventId: randomUUID() });
    expect(await ratingOf(p)).toEqual({ average: 5, count: 1 });

    const approve = flagged(p, 'm2', false, 2000);
    await send(approve, { ...approve, eventId: randomUUID() });
    expect(await ratingOf(p)).toEqual({ average: 3, count: 2 });

    // A flag below the threshold (hidden: false) on a visible review changes nothing.
    await send(flagged(p, 'm1', false, 3000));
    expect(await ratingOf(p)).toEqual({ average: 3, count: 2 });
    // Hidden again later (a moderator hides it): stops counting again.
    await send(flagged(p, 'm1', true, 4000));
    expect(await ratingOf(p)).toEqual({ average: 1, count: 1 });
    // The rating of a hidden review still follows updates, and counts once it is approved.
    await h.deliver('comment.updated', {
      commentId: 'm1',
      productId: p,
      rating: 4,
      previousRating: 5,
    });
    expect(await ratingOf(p)).toEqual({ average: 1, count: 1 });
    await send(flagged(p, 'm1', false, 5000));
    expect(await ratingOf(p)).toEqual({ average: 2.5, count: 2 });
  });

  it('follows the newest moderation state whatever the arrival order', async () => {
    const p = await reviewedProduct({ o1: 2, o2: 4 });
    // Approved (t=2000) arrives before the hide that preceded it (t=1000): it still counts.
    await send(flagged(p, 'o1', false, 2000), flagged(p, 'o1', true, 1000));
    expect(await ratingOf(p)).toEqual({ average: 3, count: 2 });
    // Hidden (t=3000) then an old approval (t=2500) arriving late: stays hidden.
    await send(flagged(p, 'o2', true, 3000), flagged(p, 'o2', false, 2500));
    expect(await ratingOf(p)).toEqual({ average: 2, count: 1 });
    // Two states stamped at the same millisecond: hidden wins in either arrival order.
    await send(flagged(p, 'o1', false, 6000), flagged(p, 'o1', true, 6000));
    expect(await ratingOf(p)).toEqual({ average: 0, count: 0 });
    await send(flagged(p, 'o2', true, 7000), flagged(p, 'o2', false, 7000));
    expect(await ratingOf(p)).toEqual({ average: 0, count: 0 });
  });

  it('a moderation state that overtakes the review itself is kept and applied to it', async () => {
    const p = await newProduct();
    // Hidden before comment.created arrived: the late review does not count.
    await send(flagged(p, 'e1', true, 1000));
    expect(await ratingOf(p)).toEqual({ average: 0, count: 0 });
    await review(p, 'e1', 3);
    expect(await ratingOf(p)).toEqual({ average: 0, count: 0 });
    // Approved later: counts with the rating the late comment.created brought.
    await send(flagged(p, 'e1', false, 2000));
    expect(await ratingOf(p)).toEqual({ average: 3, count: 1 });
    // A flag (not hidden) before the review: the review counts normally when it arrives.
    await send(flagged(p, 'e2', false, 1000));
    await review(p, 'e2', 5);
    expect(await ratingOf(p)).toEqual({ average: 4, count: 2 });
    // A flagged reply (no rating) is never a review.
    await send(flagged(p, 'e3', true, 1000), flagged(p, 'e3', false, 2000));
    await h.deliver('comment.created', {
      commentId: 'e3',
      productId: p,
      userId: 'u',
      rating: null,
      parentId: 'e1',
    });
    expect(await ratingOf(p)).toEqual({ average: 4, count: 2 });
  });

  it('a review removed by a moderator stays removed, whatever flag state comes after', async () => {
    const p = await reviewedProduct({ d1: 5, d2: 3 });
    await send(flagged(p, 'd1', true, 1000));
    await h.deliver('comment.deleted', { commentId: 'd1', productId: p, rating: 5 });
    await send(flagged(p, 'd1', false, 2000));
    expect(await ratingOf(p)).toEqual({ average: 3, count: 1 });
  });

  it('ends in the newest state when many moderation events of one review race', async () => {
    const p = await reviewedProduct({ r1: 4, r2: 2 });
    // 30 alternating states of r1 handled concurrently, published newest first: the newest
    // (t=30, hidden) must win over the oldest, published last (t=1, not hidden).
    const states = Array.from({ length: 30 }, (_, i) => flagged(p, 'r1', (i + 1) % 2 === 0, i + 1));
    await Promise.all(states.reverse().map((e) => h.bus.publish(e)));
    await h.settle();
    expect(await ratingOf(p)).toEqual({ average: 2, count: 1 });
  });

  it('dead-letters a comment.flagged without a boolean hidden, and changes nothing', async () => {
    const p = await newProduct();
    await review(p, 'i1', 4);
    await h.deliver('comment.flagged', { commentId: 'i1', productId: p, flags: 2, hidden: 'yes' });
    await h.deliver('comment.flagged', { commentId: 'i1', productId: p, flags: 2 });
    expect(await ratingOf(p)).toEqual({ average: 4, count: 1 });
    expect(
      h.bus.deadLetters.filter((d) => d.reason.includes('invalid comment.flagged payload')),
    ).toHaveLength(2);
  });

  it('ignores moderation of reviews of unknown products', async () => {
    await send(flagged('not-a-product', 'u1', true, 1000));
    expect(
      h.bus.deadLetters.filter(
        (d) => d.event?.data && (d.event.data as { commentId?: string }).commentId === 'u1',
      ),
    ).toEqual([]);
  });
});
