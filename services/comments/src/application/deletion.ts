import { NotFoundError } from '@ecom/common/errors';
import { deletionOutcome, heldSlotReason } from '../domain/rules';
import type { Comment } from '../domain/types';
import type { CommentsDeps } from './deps';

export type DeletionOutcome = 'removed' | 'tombstoned';

/** Deleting a comment, shared by its author's delete and a moderator's remove. */
export function createDeletion({ stores, events, now }: CommentsDeps) {
  async function dropReactions(ids: string[]): Promise<void> {
    await stores.flags.removeByComments(ids);
    await stores.votes.removeByComments(ids);
  }

  /** After a reply is removed: its parent counts one reply less; empty tombstones go too. */
  async function releaseFromParent(parentId: string | null): Promise<void> {
    let next = parentId;
    while (next) {
      const parent = await stores.comments.releaseReply(next);
      if (!parent || parent.status !== 'DELETED' || parent.replyCount > 0) return;
      const gone = await stores.comments.removeEmptyTombstone(parent.id);
      if (!gone) return;
      await dropReactions([gone.id]);
      next = gone.parentId;
    }
  }

  /**
   * A moderated review keeps its author's slot (docs/adr/0060). Decided on the comment as the
   * removal found it, inside its transaction: a hide that committed first is seen.
   */
  async function holdIfModerated(gone: Comment, by: 'author' | 'moderator'): Promise<void> {
    const reason = heldSlotReason(gone, by);
    if (reason) await stores.comments.holdSlot(gone, reason, now());
  }

  /**
   * Removes a leaf, or leaves a tombstone when it has replies; publishes comment.deleted. A
   * hidden review's author may delete it (their words go), but it keeps the slot.
   */
  async function deleteComment(c: Comment, by: 'author' | 'moderator'): Promise<DeletionOutcome> {
    if (deletionOutcome(c) === 'remove') {
      // The removal, its reactions, its parent's count and comment.deleted commit together.
      const removed = await events.transaction(async () => {
        const leaf = await stores.comments.removeIfLeaf(c.id);
        if (!leaf) return null;
        await holdIfModerated(leaf, by);
        await dropReactions([leaf.id]);
        await events.publish('comment.deleted', {
          commentId: leaf.id,
          productId: leaf.productId,
          rating: leaf.rating,
        });
        await releaseFromParent(leaf.parentId);
        return leaf;
      });
      if (removed) return 'removed';
      // It gained a reply meanwhile (or is gone): fall through to the tombstone.
    }
    await events.transaction(async () => {
      const before = await stores.comments.tombstone(c.id, by, now());
      if (!before) throw new NotFoundError('Comment not found');
      await holdIfModerated(before, by);
      await events.publish('comment.deleted', {
        commentId: before.id,
        productId: before.productId,
        rating: before.rating,
      });
    });
    // Its last reply may have gone between the two steps.
    if (await stores.comments.removeEmptyTombstone(c.id)) {
      await dropReactions([c.id]);
      await releaseFromParent(c.parentId);
      return 'removed';
    }
    return 'tombstoned';
  }

  /**
   * Takes back a comment that was just created for a product or an author deleted meanwhile:
   * removed with its comment.deleted, and its parent's reply count given back.
   */
  async function withdraw(c: Comment): Promise<void> {
    await events.transaction(async () => {
      const leaf = await stores.comments.removeIfLeaf(c.id);
      if (!leaf) return;
      await events.publish('comment.deleted', {
        commentId: leaf.id,
        productId: leaf.productId,
        rating: leaf.rating,
      });
      await releaseFromParent(leaf.parentId);
    });
  }

  return { deleteComment, releaseFromParent, withdraw };
}

export type Deletion = ReturnType<typeof createDeletion>;
