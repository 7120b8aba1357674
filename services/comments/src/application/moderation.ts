import { ConflictError, NotFoundError } from '@ecom/common/errors';
import { page, pageOffset, type Page, type PageQuery } from '@ecom/common/http';
import { assertCanReact, moderationEffect, shouldHideAfterFlag } from '../domain/rules';
import { toCommentView } from '../domain/thread';
import type { Actor, Comment, CommentView, ModerationAction } from '../domain/types';
import type { Deletion, DeletionOutcome } from './deletion';
import { assertAccountActive, loadFor, type CommentsDeps } from './deps';

/** How many of a queued comment's most recent flags the moderation queue shows. */
const RECENT_FLAGS = 10;

export type QueuedComment = CommentView & {
  recentFlags: Array<{ userId: string; reason: string | null; createdAt: string }>;
};

export interface FlagResult {
  commentId: string;
  flagged: true;
  hidden: boolean;
}

export interface ModerationResult {
  id: string;
  action: ModerationAction;
  outcome: 'visible' | 'hidden' | DeletionOutcome;
  comment: CommentView | null;
}

/** Flags from readers, and what admins do about them. */
export function createModeration(deps: CommentsDeps, deletion: Deletion) {
  const { stores, events, rules, now } = deps;

  return {
    async flag(actor: Actor, id: string, reason: string): Promise<FlagResult> {
      const c = await loadFor(stores, id, actor, false);
      assertCanReact(c, actor, 'flag');
      await assertAccountActive(stores, actor);
      const at = now();
      // The flag, the comment's count (and hiding) and comment.flagged commit together.
      const hidden = await events.transaction(async () => {
        const added = await stores.flags.add({
          commentId: id,
          productId: c.productId,
          userId: actor.id,
          reason,
          now: at,
        });
        if (!added) {
          throw new ConflictError('You have already flagged this comment', { commentId: id });
        }
        const counted = await stores.comments.addFlag(id, at);
        if (!counted) {
          await stores.flags.remove(id, actor.id);
          throw new NotFoundError('Comment not found');
        }
        let isHidden = counted.status === 'HIDDEN';
        if (shouldHideAfterFlag(counted, rules.flagHideThreshold)) {
          isHidden = (await stores.comments.hide(id, 'flags', at)) || isHidden;
        }
        await events.publish('comment.flagged', {
          commentId: id,
          productId: c.productId,
          flags: counted.flags,
          hidden: isHidden,
        });
        return isHidden;
      });
      return { commentId: id, flagged: true, hidden };
    },

    /** Admins: hidden comments awaiting review, each with its most recent flags. */
    async queue(actor: Actor, query: PageQuery): Promise<Page<QueuedComment>> {
      const { items, total } = await stores.comments.listHidden({
        skip: pageOffset(query),
        limit: query.limit,
      });
      const flags = await stores.flags.listByComments(
        items.map((c) => c.id),
        RECENT_FLAGS,
      );
      const queued = items.map((c) => ({
        ...toCommentView(c, actor),
        recentFlags: (flags.get(c.id) ?? []).map((f) => ({
          userId: f.userId,
          reason: f.reason,
          createdAt: f.createdAt.toISOString(),
        })),
      }));
      return page(queued, query, total);
    },

    async moderate(actor: Actor, id: string, action: ModerationAction): Promise<ModerationResult> {
      const c = await stores.comments.findById(id);
      if (!c) throw new NotFoundError('Comment not found');
      const effect = moderationEffect(c, action);
      if (effect === 'delete') {
        const outcome = await deletion.deleteComment(c, 'moderator');
        const after = await stores.comments.findById(id);
        return { id, action, outcome, comment: after ? toCommentView(after, actor) : null };
      }
      const hidden = effect === 'hide';
      const after = await events.transaction(async () => {
        let changed: Comment | null;
        if (effect === 'show') {
          changed = await stores.comments.approve(id, now());
        } else {
          await stores.comments.hide(id, 'moderator', now());
          changed = await stores.comments.findById(id);
        }
        if (!changed || changed.status === 'DELETED') throw new NotFoundError('Comment not found');
        // approve and hide are reported like flags, so consumers track the hidden state from
        // one event type.
        await events.publish('comment.flagged', {
          commentId: id,
          productId: c.productId,
          flags: changed.flags,
          hidden,
        });
        return changed;
      });
      return {
        id,
        action,
        outcome: hidden ? 'hidden' : 'visible',
        comment: toCommentView(after, actor),
      };
    },
  };
}

export type Moderation = ReturnType<typeof createModeration>;
