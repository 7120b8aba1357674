import { Types, type Model } from 'mongoose';
import { isDuplicateKey } from '@ecom/common/mongo';
import type { FlagOutcome } from '../domain/types';
import type { Models, ReactionDoc } from './models';

/** One of a comment's most recent reactions (`trusted` is false on helpful votes). */
export interface RecentReaction {
  userId: string;
  reason: string | null;
  trusted: boolean;
  createdAt: Date;
}

/**
 * Flags and helpful votes: one document per (comment, user) under a unique index, so
 * "once per user" holds even for concurrent requests.
 */
function createReactionStore(model: Model<ReactionDoc>) {
  return {
    /** false when this user already reacted to this comment. */
    async add(input: {
      commentId: string;
      productId: string;
      userId: string;
      reason?: string;
      trusted?: boolean;
      now: Date;
    }): Promise<boolean> {
      try {
        await model.create([
          {
            commentId: new Types.ObjectId(input.commentId),
            productId: input.productId,
            userId: input.userId,
            ...(input.reason !== undefined ? { reason: input.reason } : {}),
            ...(input.trusted !== undefined ? { trusted: input.trusted } : {}),
            createdAt: input.now,
          },
        ]);
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    },

    /** The most recent reactions to each of the given comments (at most `perComment` each). */
    async listByComments(
      commentIds: string[],
      perComment: number,
    ): Promise<Map<string, RecentReaction[]>> {
      // One bounded query per comment, so a much-flagged comment cannot crowd out the others.
      const lists = await Promise.all(
        commentIds.map((id) =>
          model
            .find({ commentId: new Types.ObjectId(id) })
            .sort({ createdAt: -1, _id: -1 })
            .limit(perComment)
            .lean<ReactionDoc[]>(),
        ),
      );
      return new Map(
        commentIds.map((id, i) => [
          id,
          lists[i]!.map((d) => ({
            userId: d.userId,
            reason: d.reason ?? null,
            trusted: d.trusted ?? false,
            createdAt: d.createdAt,
          })),
        ]),
      );
    },

    async remove(commentId: string, userId: string): Promise<boolean> {
      const res = await model.deleteOne({ commentId: new Types.ObjectId(commentId), userId });
      return res.deletedCount === 1;
    },

    async removeByComments(commentIds: string[]): Promise<void> {
      if (commentIds.length === 0) return;
      await model.deleteMany({
        commentId: { $in: commentIds.map((id) => new Types.ObjectId(id)) },
      });
    },

    async removeByProduct(productId: string): Promise<void> {
      await model.deleteMany({ productId });
    },

    /** A deleted user's reactions go; the counts they added stay on the comments. */
    async removeByUser(userId: string): Promise<void> {
      await model.deleteMany({ userId });
    },

    async count(filter: { commentId?: string } = {}): Promise<number> {
      return model.countDocuments(
        filter.commentId ? { commentId: new Types.ObjectId(filter.commentId) } : {},
      );
    },
  };
}

export type ReactionStore = ReturnType<typeof createReactionStore>;

/** Flags: reactions that carry a reason, a trusted weight and, once decided, an outcome. */
export function createFlagStore(models: Models) {
  const { Flag } = models;
  return {
    ...createReactionStore(Flag),

    /**
     * Marks the comment's flags no moderator decision answered yet with `outcome`; returns
     * their flaggers. Each flag is settled by one decision only (a concurrent one finds it
     * settled), so a flagger's record counts it once.
     */
    async settle(commentId: string, outcome: FlagOutcome): Promise<string[]> {
      const commentOid = new Types.ObjectId(commentId);
      const settlement = new Types.ObjectId().toHexString();
      await Flag.updateMany(
        { commentId: commentOid, outcome: { $exists: false } },
        { $set: { outcome, settlement } },
      );
      const settled = await Flag.find({ commentId: commentOid, settlement }, { userId: 1 }).lean<
        Array<Pick<ReactionDoc, 'userId'>>
      >();
      return settled.map((f) => f.userId);
    },
  };
}

export type FlagStore = ReturnType<typeof createFlagStore>;

export function createVoteStore(models: Models): ReactionStore {
  return createReactionStore(models.Vote);
}
