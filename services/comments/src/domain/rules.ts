import {
  BusinessRuleError,
  ForbiddenError,
  NotFoundError,
  ValidationError,
} from '@ecom/common/errors';
import type { Actor, Comment, FlaggerStanding, FlagPolicy, ModerationAction } from './types';

/**
 * The comment rules, free of HTTP and storage: who may see, edit, delete, flag and vote,
 * how deep threads go, when a deletion leaves a tombstone, and when flags queue or hide a comment.
 * They throw the common typed errors, which the HTTP layer maps to statuses.
 */

export const ANONYMISED_AUTHOR_NAME = 'Deleted user';

export function isAdmin(actor: Actor | undefined): boolean {
  return actor?.role === 'admin';
}

/**
 * Hidden comments (flagged or moderated) are seen by admins only, and so is the tombstone of a
 * hidden review its author deleted (it keeps its reason): deleting it does not publish the
 * replies hidden with it.
 */
export function isVisibleTo(comment: Comment, actor: Actor | undefined): boolean {
  return (comment.status !== 'HIDDEN' && !comment.hiddenReason) || isAdmin(actor);
}

/** A comment the actor may not see does not exist for them (404, not 403). */
export function assertVisible(comment: Comment | null, actor: Actor | undefined): Comment {
  if (!comment || !isVisibleTo(comment, actor)) throw new NotFoundError('Comment not found');
  return comment;
}

/**
 * The text fits the configured length. The API spec bounds it by the highest length any
 * configuration allows; this is the configured one, with the same 400.
 */
export function assertTextFits(text: string | undefined, maxLength: number): void {
  if (text !== undefined && text.length > maxLength) {
    throw new ValidationError('Request validation failed', [
      {
        location: 'body',
        field: 'text',
        message: `"text" length must be less than or equal to ${maxLength} characters long`,
      },
    ]);
  }
}

/** A top-level review carries a rating 1..5; a reply carries none. */
export function assertRatingFitsKind(isReply: boolean, rating: number | null | undefined): void {
  if (isReply && rating !== undefined && rating !== null) {
    throw new ValidationError('A reply cannot carry a rating', [
      { location: 'body', field: 'rating', message: '"rating" is not allowed on a reply' },
    ]);
  }
  if (!isReply && (rating === undefined || rating === null)) {
    throw new ValidationError('A review needs a rating', [
      { location: 'body', field: 'rating', message: '"rating" is required for a review' },
    ]);
  }
}

/**
 * The depth of a reply to `parent`. The parent must belong to the same product, still be
 * live, and not already sit at the deepest level (threads stay bounded).
 */
export function replyDepth(parent: Comment, productId: string, maxDepth: number): number {
  if (parent.productId !== productId) {
    throw new BusinessRuleError(
      'A reply must point to a comment of the same product',
      { parentId: parent.id, productId },
      'PARENT_PRODUCT_MISMATCH',
    );
  }
  if (parent.status === 'DELETED') {
    throw new BusinessRuleError(
      'Cannot reply to a deleted comment',
      { parentId: parent.id },
      'PARENT_DELETED',
    );
  }
  if (parent.depth + 1 > maxDepth) {
    throw new BusinessRuleError(
      `Threads are limited to ${maxDepth} levels of replies`,
      { parentId: parent.id, maxDepth },
      'THREAD_TOO_DEEP',
    );
  }
  return parent.depth + 1;
}

/** Only the author edits, and only a live comment (a tombstone has nothing left to edit). */
export function assertCanEdit(comment: Comment, actor: Actor): void {
  if (comment.status === 'DELETED') throw new NotFoundError('Comment not found');
  if (comment.authorId === null || comment.authorId !== actor.id) {
    throw new ForbiddenError('Only the author can edit this comment');
  }
}

/** The author or an admin deletes. */
export function assertCanDelete(comment: Comment, actor: Actor): void {
  if (comment.status === 'DELETED') throw new NotFoundError('Comment not found');
  if (!isAdmin(actor) && (comment.authorId === null || comment.authorId !== actor.id)) {
    throw new ForbiddenError('Only the author or an admin can delete this comment');
  }
}

/**
 * Whether a review that goes keeps its author's slot for the product (docs/adr/0060):
 * moderation sticks. A moderator removed it (remove, or an admin's DELETE), or its author
 * deleted it while it was hidden (by a moderator, or by trusted flags pending one): deleting
 * and posting again would undo the decision. Judged on the comment as it was when it went.
 * Replies have no slot.
 */
export function heldSlotReason(
  comment: Pick<Comment, 'depth' | 'authorId' | 'status'>,
  by: 'author' | 'moderator',
): 'removed' | 'hidden' | null {
  if (comment.depth !== 0 || comment.authorId === null) return null;
  if (by === 'moderator') return 'removed';
  return comment.status === 'HIDDEN' ? 'hidden' : null;
}

/** A comment that still has replies becomes a tombstone so the thread survives. */
export function deletionOutcome(comment: Pick<Comment, 'replyCount'>): 'remove' | 'tombstone' {
  return comment.replyCount > 0 ? 'tombstone' : 'remove';
}

/** Flags and helpful votes are about other people's live comments. */
export function assertCanReact(comment: Comment, actor: Actor, what: 'flag' | 'vote'): void {
  if (comment.status === 'DELETED') {
    throw new BusinessRuleError(
      `Cannot ${what} a deleted comment`,
      { commentId: comment.id },
      'COMMENT_DELETED',
    );
  }
  if (comment.authorId !== null && comment.authorId === actor.id) {
    throw new BusinessRuleError(
      `You cannot ${what} your own comment`,
      { commentId: comment.id },
      what === 'flag' ? 'OWN_COMMENT_FLAG' : 'OWN_COMMENT_VOTE',
    );
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Whether a flag carries trusted weight: the account is known to be at least
 * `trustedAccountAgeDays` old (an account no user.* event told us about is not), and
 * moderators have not rejected more of its earlier flags than they upheld. Anyone may flag;
 * only trusted flags can hide a comment without a moderator.
 */
export function isTrustedFlagger(
  standing: FlaggerStanding,
  now: Date,
  trustedAccountAgeDays: number,
): boolean {
  if (standing.knownSince === null) return false;
  if (now.getTime() - standing.knownSince.getTime() < trustedAccountAgeDays * DAY_MS) {
    return false;
  }
  return standing.flagsRejected <= standing.flagsUpheld;
}

/**
 * What a comment's counts call for after a flag was counted. `queue`: it enters the
 * moderation queue (and stays visible) once `reviewThreshold` flags arrived since the last
 * approval. `hide`: a visible comment is hidden pending review only once `hideThreshold`
 * *trusted* flags agree (hiding queues it too). Fresh accounts can make work for moderators,
 * never take a review down.
 */
export function afterFlag(
  comment: Pick<Comment, 'status' | 'flagsSinceReview' | 'trustedFlagsSinceReview' | 'queuedAt'>,
  policy: Pick<FlagPolicy, 'reviewThreshold' | 'hideThreshold'>,
): { queue: boolean; hide: boolean } {
  const hide =
    comment.status === 'VISIBLE' && comment.trustedFlagsSinceReview >= policy.hideThreshold;
  const queue =
    comment.status !== 'DELETED' &&
    comment.queuedAt === null &&
    (hide || comment.flagsSinceReview >= policy.reviewThreshold);
  return { queue, hide };
}

/** What a moderator's action does to a comment. */
export function moderationEffect(
  comment: Comment,
  action: ModerationAction,
): 'show' | 'hide' | 'delete' {
  if (comment.status === 'DELETED') throw new NotFoundError('Comment not found');
  switch (action) {
    case 'approve':
      return 'show';
    case 'hide':
      return 'hide';
    case 'remove':
      return 'delete';
  }
}
