import request from 'supertest';
import { createEvent } from '@ecom/common';
import { seller, startHarness, tokenFor, type Harness } from './helpers';

let h: Harness;
let productId: string;

beforeAll(async () => {
  h = await startHarness('product_ratings');
  const res = await request(h.service.app)
    .post('/api/products')
    .set('Authorization', tokenFor(seller))
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
