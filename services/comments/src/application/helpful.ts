import { ConflictError, NotFoundError } from '@ecom/common/errors';
import { assertCanReact } from '../domain/rules';
import type { Actor } from '../domain/types';
import { assertAccountActive, loadFor, type CommentsDeps } from './deps';

export interface HelpfulCount {
  commentId: string;
  helpfulCount: number;
}

/** "Helpful" votes: one per reader and comment, withdrawable; they drive sort=helpful. */
export function createHelpfulVotes({ stores, now }: CommentsDeps) {
  return {
    async vote(actor: Actor, id: string): Promise<HelpfulCount> {
      const c = await loadFor(stores, id, actor, false);
      assertCanReact(c, actor, 'vote');
      await assertAccountActive(stores, actor);
      const added = await stores.votes.add({
        commentId: id,
        productId: c.productId,
        userId: actor.id,
        now: now(),
      });
      if (!added) {
        throw new ConflictError('You have already marked this comment helpful', {
          commentId: id,
        });
      }
      const after = await stores.comments.addHelpful(id, 1);
      if (!after) throw new NotFoundError('Comment not found');
      return { commentId: id, helpfulCount: after.helpfulCount };
    },

    async withdraw(actor: Actor, id: string): Promise<HelpfulCount> {
      const c = await loadFor(stores, id, actor, false);
      if (!(await stores.votes.remove(id, actor.id))) {
        throw new NotFoundError('You have not marked this comment helpful');
      }
      const after = await stores.comments.addHelpful(c.id, -1);
      if (!after) throw new NotFoundError('Comment not found');
      return { commentId: id, helpfulCount: after.helpfulCount };
    },
  };
}

export type HelpfulVotes = ReturnType<typeof createHelpfulVotes>;
