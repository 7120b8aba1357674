import { BusinessRuleError, ConflictError, ForbiddenError, NotFoundError } from '@ecom/common';
import {
  assertCanDelete,
  assertCanEdit,
  assertCanReact,
  assertRatingFitsKind,
  assertVisible,
  deletionOutcome,
  isAdmin,
  moderationEffect,
  replyDepth,
  shouldHideAfterFlag,
} from './domain/rules';
import { buildThreads, toCommentView } from './domain/thread';
import type { Actor, Comment, CommentView, ModerationAction, SortOrder } from './domain/types';
import type { CommentEventPublisher } from './events';
import type { ProductCatalog } from './products';
import type { Stores } from './store';

export interface CommentRules {
  flagHideThreshold: number;
  maxThreadDepth: number;
  maxRepliesPerPage: number;
}

export interface CommentsDeps {
  stores: Stores;
  catalog: ProductCatalog;
  events: CommentEventPublisher;
  rules: CommentRules;
  now?: () => Date;
}

export interface NewCommentInput {
  productId: string;
  text: string;
  rating?: number | null;
  parentId?: string | null;
}

/** A page of a list, in the platform's list shape (as product and auth answer). */
export interface Page<T> {
  items: T[];
  page: number;
  limit: number;
  total: number;
  totalPages: number;
}

/**
 * The use cases behind the routes: they load, ask the domain rules, write through the stores
 * with conditional updates, and publish the events. No Express here.
 */
export function createCommentsUseCases(deps: CommentsDeps) {
  const { stores, catalog, events, rules } = deps;
  const now = deps.now ?? (() => new Date());

  async function productGone(productId: string): Promise<never> {
    throw new NotFoundError('Product not found', { productId });
  }

  /** Hidden comments exist only for admins and, for deletion/editing, their author. */
  async function loadFor(id: string, actor: Actor, authorMaySee: boolean): Promise<Comment> {
    const c = await stores.comments.findById(id);
    if (!c) throw new NotFoundError('Comment not found');
    if (authorMaySee && c.authorId !== null && c.authorId === actor.id) return c;
    return assertVisible(c, actor);
  }

  /** A deleted account's tokens stay valid until they expire; they may not write meanwhile. */
  const accountDeleted = () =>
    new ForbiddenError('This account has been deleted', { reason: 'account_deleted' });
  async function assertAccountActive(actor: Actor): Promise<void> {
    if (await stores.directory.isUserDeleted(actor.id)) throw accountDeleted();
  }

  async function dropReactions(ids: string[]): Promise<void> {
    await stores.flags.removeByComments(ids);
    await stores.votes.removeByComments(ids);
  }

  /** After a reply is removed: its parent counts one reply less; empty tombstones go too. */
  async function releaseFromParent(parentId: string | null): Promise<void> {
    let next = parentId;
    while (next) {
      const parent = await stores.comments.releaseReply(next);
      if (!parent || parent.status !== 'deleted' || parent.replyCount > 0) return;
      const gone = await stores.comments.removeEmptyTombstone(parent.id);
      if (!gone) return;
      await dropReactions([gone.id]);
      next = gone.parentId;
    }
  }

  /** Removes a leaf, or leaves a tombstone when it has replies; publishes comment.deleted. */
  async function deleteComment(
    c: Comment,
    by: 'author' | 'moderator',
  ): Promise<'removed' | 'tombstoned'> {
    if (deletionOutcome(c) === 'remove') {
      const removed = await stores.comments.removeIfLeaf(c.id);
      if (removed) {
        await dropReactions([removed.id]);
        await events.publish({
          type: 'comment.deleted',
          data: { commentId: removed.id, productId: removed.productId, rating: removed.rating },
        });
        await releaseFromParent(removed.parentId);
        return 'removed';
      }
      // It gained a reply meanwhile (or is gone): fall through to the tombstone.
    }
    const before = await stores.comments.tombstone(c.id, by, now());
    if (!before) throw new NotFoundError('Comment not found');
    await events.publish({
      type: 'comment.deleted',
      data: { commentId: before.id, productId: before.productId, rating: before.rating },
    });
    // Its last reply may have gone between the two steps.
    if (await stores.comments.removeEmptyTombstone(c.id)) {
      await dropReactions([c.id]);
      await releaseFromParent(c.parentId);
      return 'removed';
    }
    return 'tombstoned';
  }

  return {
    async listForProduct(
      productId: string,
      query: { page: number; limit: number; sort: SortOrder },
      actor: Actor | undefined,
    ): Promise<Page<CommentView>> {
      const includeHidden = isAdmin(actor);
      const { items, total } = await stores.comments.listTopLevel(productId, {
        includeHidden,
        sort: query.sort,
        skip: (query.page - 1) * query.limit,
        limit: query.limit,
      });
      const replies = await stores.comments.listReplies(
        items.map((c) => c.id),
        { includeHidden, maxDepth: rules.maxThreadDepth, limit: rules.maxRepliesPerPage },
      );
      return {
        items: buildThreads(items, replies, actor, rules.maxThreadDepth),
        page: query.page,
        limit: query.limit,
        total,
        totalPages: Math.ceil(total / query.limit),
      };
    },

    /** Admins: hidden comments awaiting review, each with its most recent flags. */
    async moderationQueue(
      actor: Actor,
      query: { page: number; limit: number },
    ): Promise<
      Page<
        CommentView & {
          recentFlags: Array<{ userId: string; reason: string | null; createdAt: string }>;
        }
      >
    > {
      const { items, total } = await stores.comments.listHidden({
        skip: (query.page - 1) * query.limit,
        limit: query.limit,
      });
      const flags = await stores.flags.listByComments(
        items.map((c) => c.id),
        10,
      );
      return {
        items: items.map((c) => ({
          ...toCommentView(c, actor),
          recentFlags: (flags.get(c.id) ?? []).map((f) => ({
            userId: f.userId,
            reason: f.reason,
            createdAt: f.createdAt.toISOString(),
          })),
        })),
        page: query.page,
        limit: query.limit,
        total,
        totalPages: Math.ceil(total / query.limit),
      };
    },

    async get(id: string, actor: Actor | undefined): Promise<CommentView> {
      const c = assertVisible(await stores.comments.findById(id), actor);
      return toCommentView(c, actor);
    },

    async create(actor: Actor, input: NewCommentInput): Promise<CommentView> {
      const parentId = input.parentId ?? null;
      assertRatingFitsKind(parentId !== null, input.rating);
      await assertAccountActive(actor);
      if (await stores.directory.isProductDeleted(input.productId)) {
        return productGone(input.productId);
      }
      let parent: Comment | null = null;
      let depth = 0;
      if (parentId !== null) {
        parent = await loadFor(parentId, actor, false);
        depth = replyDepth(parent, input.productId, rules.maxThreadDepth);
      }
      // 503 here (product service down) leaves nothing written.
      if (!(await catalog.exists(input.productId))) return productGone(input.productId);
      if (parent && !(await stores.comments.reserveReply(parent.id))) {
        throw new BusinessRuleError(
          'Cannot reply to a deleted comment',
          { parentId: parent.id },
          'PARENT_DELETED',
        );
      }
      let created: Comment;
      try {
        created = await stores.comments.insert({
          productId: input.productId,
          authorId: actor.id,
          authorName: await stores.directory.userName(actor.id),
          parent,
          depth,
          text: input.text,
          rating: parent ? null : (input.rating ?? null),
          now: now(),
        });
      } catch (err) {
        if (parent) await stores.comments.releaseReply(parent.id);
        throw err;
      }
      // product.deleted may have been handled while we wrote: its marker came before its
      // delete, so either that delete removed this comment or we see the marker now.
      if (await stores.directory.isProductDeleted(input.productId)) {
        if (await stores.comments.removeIfLeaf(created.id)) await releaseFromParent(parentId);
        return productGone(input.productId);
      }
      // Same for user.deleted: its marker precedes its anonymisation.
      if (await stores.directory.isUserDeleted(actor.id)) {
        if (await stores.comments.removeIfLeaf(created.id)) await releaseFromParent(parentId);
        throw accountDeleted();
      }
      await events.publish({
        type: 'comment.created',
        data: {
          commentId: created.id,
          productId: created.productId,
          userId: actor.id,
          rating: created.rating,
          parentId: created.parentId,
        },
      });
      return toCommentView(created, actor);
    },

    async edit(
      actor: Actor,
      id: string,
      changes: { text?: string; rating?: number },
    ): Promise<CommentView> {
      const c = await loadFor(id, actor, true);
      assertCanEdit(c, actor);
      if (changes.rating !== undefined) assertRatingFitsKind(c.depth > 0, changes.rating);
      const result = await stores.comments.edit(id, actor.id, changes, now());
      if (!result) throw new NotFoundError('Comment not found');
      await events.publish({
        type: 'comment.updated',
        data: {
          commentId: id,
          productId: c.productId,
          rating: result.after.rating,
          previousRating: result.before.rating,
        },
      });
      return toCommentView(result.after, actor);
    },

    async remove(
      actor: Actor,
      id: string,
    ): Promise<{ id: string; outcome: 'removed' | 'tombstoned' }> {
      const c = await loadFor(id, actor, true);
      assertCanDelete(c, actor);
      const by = c.authorId === actor.id ? 'author' : 'moderator';
      return { id, outcome: await deleteComment(c, by) };
    },

    async flag(
      actor: Actor,
      id: string,
      reason: string,
    ): Promise<{ commentId: string; flagged: true; hidden: boolean }> {
      const c = await loadFor(id, actor, false);
      assertCanReact(c, actor, 'flag');
      await assertAccountActive(actor);
      const at = now();
      const added = await stores.flags.add({
        commentId: id,
        productId: c.productId,
        userId: actor.id,
        reason,
        now: at,
      });
      if (!added)
        throw new ConflictError('You have already flagged this comment', { commentId: id });
      const counted = await stores.comments.addFlag(id, at);
      if (!counted) {
        await stores.flags.remove(id, actor.id);
        throw new NotFoundError('Comment not found');
      }
      let hidden = counted.status === 'hidden';
      if (shouldHideAfterFlag(counted, rules.flagHideThreshold)) {
        hidden = (await stores.comments.hide(id, 'flags', at)) || hidden;
      }
      await events.publish({
        type: 'comment.flagged',
        data: { commentId: id, productId: c.productId, flags: counted.flags, hidden },
      });
      return { commentId: id, flagged: true, hidden };
    },

    async moderate(
      actor: Actor,
      id: string,
      action: ModerationAction,
    ): Promise<{
      id: string;
      action: ModerationAction;
      outcome: string;
      comment: CommentView | null;
    }> {
      const c = await stores.comments.findById(id);
      if (!c) throw new NotFoundError('Comment not found');
      const effect = moderationEffect(c, action);
      if (effect === 'delete') {
        const outcome = await deleteComment(c, 'moderator');
        const after = await stores.comments.findById(id);
        return { id, action, outcome, comment: after ? toCommentView(after, actor) : null };
      }
      if (effect === 'show') {
        const approved = await stores.comments.approve(id, now());
        if (!approved) throw new NotFoundError('Comment not found');
        await events.publish({
          type: 'comment.flagged',
          data: { commentId: id, productId: c.productId, flags: approved.flags, hidden: false },
        });
        return { id, action, outcome: 'visible', comment: toCommentView(approved, actor) };
      }
      await stores.comments.hide(id, 'moderator', now());
      const after = await stores.comments.findById(id);
      if (!after || after.status === 'deleted') throw new NotFoundError('Comment not found');
      await events.publish({
        type: 'comment.flagged',
        data: { commentId: id, productId: c.productId, flags: after.flags, hidden: true },
      });
      return { id, action, outcome: 'hidden', comment: toCommentView(after, actor) };
    },

    async voteHelpful(
      actor: Actor,
      id: string,
    ): Promise<{ commentId: string; helpfulCount: number }> {
      const c = await loadFor(id, actor, false);
      assertCanReact(c, actor, 'vote');
      await assertAccountActive(actor);
      const added = await stores.votes.add({
        commentId: id,
        productId: c.productId,
        userId: actor.id,
        now: now(),
      });
      if (!added)
        throw new ConflictError('You have already marked this comment helpful', { commentId: id });
      const after = await stores.comments.addHelpful(id, 1);
      if (!after) throw new NotFoundError('Comment not found');
      return { commentId: id, helpfulCount: after.helpfulCount };
    },

    async withdrawHelpful(
      actor: Actor,
      id: string,
    ): Promise<{ commentId: string; helpfulCount: number }> {
      const c = await loadFor(id, actor, false);
      if (!(await stores.votes.remove(id, actor.id))) {
        throw new NotFoundError('You have not marked this comment helpful');
      }
      const after = await stores.comments.addHelpful(c.id, -1);
      if (!after) throw new NotFoundError('Comment not found');
      return { commentId: id, helpfulCount: after.helpfulCount };
    },
  };
}

export type CommentsUseCases = ReturnType<typeof createCommentsUseCases>;
