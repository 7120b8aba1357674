import { ConflictError, NotFoundError } from '@ecom/common/errors';
import { page, pageOffset, type Page, type PageQuery } from '@ecom/common/http';
import { afterFlag, assertCanReact, isTrustedFlagger, moderationEffect } from '../domain/rules';
import { toCommentView } from '../domain/thread';
import type { Actor, Comment, CommentView, FlagOutcome, ModerationAction } from '../domain/types';
import type { Deletion, DeletionOutcome } from './deletion';
import { assertAccountActive, loadFor, type CommentsDeps } from './deps';

/** How many of a queued comment's most recent flags the moderation queue shows. */
const RECENT_FLAGS = 10;

export type QueuedComment = CommentView & {
  recentFlags: Array<{
    userId: string;
    reason: string | null;
    trusted: boolean;
    createdAt: string;
  }>;
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

/**
 * Flags from readers, and what admins do about them. Flags queue a comment for moderators
 * (it stays visible); only trusted flags can hide it by themselves (docs/adr/0014).
 */
export function createModeration(deps: CommentsDeps, deletion: Deletion) {
  const { stores, events, rules, now } = deps;

  /**
   * A moderator's decision answers the comment's open flags: their flaggers' records count
   * it, which is what their later flags weigh.
   */
  async function settleFlags(id: string, outcome: FlagOutcome): Promise<void> {
    const flaggers = await stores.flags.settle(id, outcome);
    await stores.directory.recordFlagOutcomes(flaggers, outcome);
  }

  return {
    async flag(actor: Actor, id: string, reason: string): Promise<FlagResult> {
      const c = await loadFor(stores, id, actor, false);
      assertCanReact(c, actor, 'flag');
      await assertAccountActive(stores, actor);
      const at = now();
      const trusted = isTrustedFlagger(
        await stores.directory.flaggerStanding(actor.id),
        at,
        rules.flags.trustedAccountAgeDays,
      );
      // The flag, the comment's counts (queueing, hiding) and comment.flagged commit together.
      const hidden = await events.transaction(async () => {
        const added = await stores.flags.add({
          commentId: id,
          productId: c.productId,
          userId: actor.id,
          reason,
          trusted,
          now: at,
        });
        if (!added) {
          throw new ConflictError('You have already flagged this comment', { commentId: id });
        }
        const counted = await stores.comments.addFlag(id, trusted, at);
        if (!counted) {
          await stores.flags.remove(id, actor.id);
          throw new NotFoundError('Comment not found');
        }
        let isHidden = counted.status === 'HIDDEN';
        const next = afterFlag(counted, rules.flags);
        if (next.hide) {
          isHidden = (await stores.comments.hide(id, 'flags', at)) || isHidden;
        } else if (next.queue) {
          await stores.comments.enqueue(id, at);
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

    /**
     * Admins: comments awaiting a decision (queued by flags, or hidden), oldest first, each
     * with its most recent flags.
     */
    async queue(actor: Actor, query: PageQuery): Promise<Page<QueuedComment>> {
      const { items, total } = await stores.comments.listQueue({
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
          trusted: f.trusted,
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
        // The flags were right. Settled first: deleting drops them.
        await events.transaction(() => settleFlags(id, 'upheld'));
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
        await settleFlags(id, effect === 'show' ? 'rejected' : 'upheld');
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
