import type { CacheInvalidator, RatingStore } from './ports';

export type CommentChange =
  | { type: 'created'; commentId: string; productId: string; rating: number | null }
  | { type: 'updated'; commentId: string; productId: string; rating: number | null }
  | { type: 'deleted'; commentId: string; productId: string }
  /** comment.flagged: `hidden` is the review's moderation state as of `at` (event time). */
  | { type: 'flagged'; commentId: string; productId: string; hidden: boolean; at: Date };

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
