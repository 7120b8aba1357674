import type { CacheInvalidator, RatingStore } from '../domain/ports';
import type { CommentChange } from '../domain/types';

/**
 * Keeps ratingAverage/ratingCount from reviews (comments with a rating) that are not hidden
 * pending moderation. Each review is stored by comment id and the aggregate recomputed from
 * them, so a replayed or reordered event cannot count a review twice; the hidden flag follows
 * the newest comment.flagged by event time, so a late "hidden" cannot undo an approval.
 */
export class RatingService {
  constructor(
    private readonly store: RatingStore,
    private readonly cache: CacheInvalidator,
  ) {}

  async apply(change: CommentChange): Promise<{ average: number; count: number } | null> {
    const { commentId, productId } = change;
    // A reply (no rating) that was never a review changes nothing.
    if (change.type === 'created' && change.rating === null) return null;
    const accepted =
      change.type === 'flagged'
        ? await this.store.recordVisibility({
            commentId,
            productId,
            hidden: change.hidden,
            at: change.at,
          })
        : await this.store.recordReview(change.type, {
            commentId,
            productId,
            rating: change.type === 'deleted' ? null : change.rating,
          });
    if (!accepted) return null;
    const aggregate = await this.store.recompute(productId);
    if (aggregate) await this.cache.productChanged(productId);
    return aggregate;
  }
}
