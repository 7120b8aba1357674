import { isDuplicateKey } from '@ecom/common/mongo';
import type { RatingStore } from '../domain/ports';
import type { ProductModels } from './models';
import { toObjectId } from './object-id';

export class MongoRatingStore implements RatingStore {
  constructor(private readonly models: ProductModels) {}

  async recordReview(
    change: 'created' | 'updated' | 'deleted',
    review: { commentId: string; productId: string; rating: number | null },
  ): Promise<boolean> {
    const { commentId, productId, rating } = review;
    try {
      if (change === 'created') {
        // Insert only: a later update or delete that arrived first keeps its word.
        const res = await retryOnDuplicate(() =>
          this.models.Review.updateOne(
            { commentId },
            { $setOnInsert: { commentId, productId, rating, deleted: false } },
            { upsert: true },
          ),
        );
        if (res.matchedCount === 1) {
          // A comment.flagged that came first left a placeholder without the rating.
          await this.models.Review.updateOne(
            { commentId, pending: true },
            { $set: { rating, pending: false } },
          );
        }
        return res.upsertedCount === 1 || res.matchedCount === 1;
      }
      if (change === 'updated') {
        const res = await this.models.Review.updateOne(
          { commentId, deleted: false },
          { $set: { rating, pending: false }, $setOnInsert: { productId } },
          { upsert: true },
        );
        return res.upsertedCount === 1 || res.matchedCount === 1;
      }
      await this.models.Review.updateOne(
        { commentId },
        { $set: { deleted: true, rating: null }, $setOnInsert: { productId } },
        { upsert: true },
      );
      return true;
    } catch (err) {
      // The upsert hit the tombstone of a deleted review: the change is refused.
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async recordVisibility(review: {
    commentId: string;
    productId: string;
    hidden: boolean;
    at: Date;
  }): Promise<boolean> {
    const { commentId, productId, hidden, at } = review;
    // Newer than what is recorded (or never flagged); at equal times "hidden" wins.
    const notNewer = hidden ? { $not: { $gt: at } } : { $not: { $gte: at } };
    try {
      const res = await retryOnDuplicate(() =>
        this.models.Review.updateOne(
          { commentId, visibilityAt: notNewer },
          {
            $set: { hidden, visibilityAt: at },
            $setOnInsert: { productId, rating: null, deleted: false, pending: true },
          },
          { upsert: true },
        ),
      );
      return res.upsertedCount === 1 || res.matchedCount === 1;
    } catch (err) {
      // The review exists with a newer moderation state: this older one is refused.
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async recompute(productId: string): Promise<{ average: number; count: number } | null> {
    const _id = toObjectId(productId);
    if (!_id) return null;
    const bumped = await this.models.Product.findOneAndUpdate(
      { _id },
      { $inc: { ratingRev: 1 } },
      { returnDocument: 'after', projection: { ratingRev: 1 }, timestamps: false },
    ).lean();
    if (!bumped) return null;
    const reviews = await this.models.Review.find({
      productId,
      deleted: false,
      hidden: { $ne: true },
      rating: { $ne: null },
    })
      .select({ rating: 1 })
      .lean();
    const count = reviews.length;
    const sum = reviews.reduce((acc, r) => acc + (r.rating ?? 0), 0);
    const average = count === 0 ? 0 : Math.round((sum * 100) / count) / 100;
    // Only the newest recomputation writes: it read every review recorded before its bump.
    await this.models.Product.updateOne(
      { _id, ratingRev: bumped.ratingRev },
      { $set: { ratingAverage: average, ratingCount: count } },
      { timestamps: false },
    );
    return { average, count };
  }
}

/**
 * Runs an upsert once more when it lost an insert race on the unique commentId (another
 * event of the same review inserted first): the second run matches that document. A
 * duplicate key on the second run means the filter refused the existing document.
 */
async function retryOnDuplicate<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return write();
  }
}
