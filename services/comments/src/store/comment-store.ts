import { Types } from 'mongoose';
import { ConflictError } from '@ecom/common/errors';
import { isDuplicateKey } from '@ecom/common/mongo';
import { ANONYMISED_AUTHOR_NAME } from '../domain/rules';
import type { Comment, SortOrder } from '../domain/types';
import type { CommentDoc, Models } from './models';

function toComment(d: CommentDoc): Comment {
  return {
    id: d._id.toHexString(),
    productId: d.productId,
    authorId: d.authorId,
    authorName: d.authorName,
    parentId: d.parentId ? d.parentId.toHexString() : null,
    rootId: d.rootId ? d.rootId.toHexString() : null,
    depth: d.depth,
    text: d.text,
    rating: d.rating,
    status: d.status,
    hiddenReason: d.hiddenReason,
    flags: d.flags,
    flagsSinceReview: d.flagsSinceReview,
    trustedFlagsSinceReview: d.trustedFlagsSinceReview ?? 0,
    queuedAt: d.queuedAt ?? null,
    helpfulCount: d.helpfulCount,
    replyCount: d.replyCount,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    editedAt: d.editedAt,
    deletedAt: d.deletedAt,
    deletedBy: d.deletedBy,
  };
}

const maybe = (d: CommentDoc | null): Comment | null => (d ? toComment(d) : null);
const oid = (id: string) => new Types.ObjectId(id);
/**
 * What anyone may read: not hidden, and no tombstone of a hidden review (it keeps its reason),
 * whose replies went out of view with it. Visible comments never carry a reason.
 */
const PUBLIC = { status: { $ne: 'HIDDEN' as const }, hiddenReason: null };

export interface NewComment {
  productId: string;
  authorId: string;
  authorName: string | null;
  parent: Comment | null;
  depth: number;
  text: string;
  rating: number | null;
  now: Date;
}

/** Every read and write of comments. Each state change is one atomic, conditional update. */
export function createCommentStore(models: Models) {
  const { Comment: C, HeldReviewSlot: Held } = models;
  const slotOf = (productId: string, userId: string) => `${productId}|${userId}`;

  return {
    async findById(id: string): Promise<Comment | null> {
      return maybe(await C.findById(oid(id)).lean<CommentDoc>());
    },

    /** Inserts a review or reply; a second live review by the same user is a 409. */
    async insert(input: NewComment): Promise<Comment> {
      const isReply = input.parent !== null;
      try {
        const [created] = await C.create([
          {
            productId: input.productId,
            authorId: input.authorId,
            authorName: input.authorName,
            parentId: input.parent ? oid(input.parent.id) : null,
            rootId: input.parent ? oid(input.parent.rootId ?? input.parent.id) : null,
            depth: input.depth,
            text: input.text,
            rating: input.rating,
            status: 'VISIBLE',
            ...(isReply ? {} : { reviewSlot: slotOf(input.productId, input.authorId) }),
            createdAt: input.now,
            updatedAt: input.now,
          },
        ]);
        return toComment(created!.toObject() as CommentDoc);
      } catch (err) {
        if (isDuplicateKey(err, 'reviewSlot')) {
          throw new ConflictError('You have already reviewed this product', {
            productId: input.productId,
          });
        }
        throw err;
      }
    },

    /**
     * Counts a reply on its parent before the reply is written, and only while the parent is
     * live: a concurrent delete then either sees the count (tombstone) or removed the parent
     * first (this returns null and no orphan reply is written).
     */
    async reserveReply(parentId: string): Promise<boolean> {
      const res = await C.updateOne(
        { _id: oid(parentId), status: { $ne: 'DELETED' } },
        { $inc: { replyCount: 1 } },
      );
      return res.modifiedCount === 1;
    },

    async releaseReply(parentId: string): Promise<Comment | null> {
      return maybe(
        await C.findOneAndUpdate(
          { _id: oid(parentId) },
          { $inc: { replyCount: -1 } },
          { returnDocument: 'after' },
        ).lean<CommentDoc>(),
      );
    },

    /** Top-level reviews of a product, one page, with the total for pagination. */
    async listTopLevel(
      productId: string,
      opts: { includeHidden: boolean; sort: SortOrder; skip: number; limit: number },
    ): Promise<{ items: Comment[]; total: number }> {
      const filter = {
        productId,
        depth: 0,
        ...(opts.includeHidden ? {} : PUBLIC),
      };
      const sort: Record<string, 1 | -1> =
        opts.sort === 'helpful'
          ? { helpfulCount: -1, createdAt: -1, _id: -1 }
          : { createdAt: -1, _id: -1 };
      const [docs, total] = await Promise.all([
        C.find(filter).sort(sort).skip(opts.skip).limit(opts.limit).lean<CommentDoc[]>(),
        C.countDocuments(filter),
      ]);
      return { items: docs.map(toComment), total };
    },

    /**
     * The moderation queue, oldest first: comments queued by flags (visible or hidden) or
     * hidden by a moderator, until a moderator approves or removes them. Hidden comments stored
     * before the queue had its own field come first.
     */
    async listQueue(opts: {
      skip: number;
      limit: number;
    }): Promise<{ items: Comment[]; total: number }> {
      const filter = {
        status: { $ne: 'DELETED' as const },
        $or: [{ queuedAt: { $exists: true } }, { status: 'HIDDEN' as const }],
      };
      const [docs, total] = await Promise.all([
        C.find(filter)
          .sort({ queuedAt: 1, _id: 1 })
          .skip(opts.skip)
          .limit(opts.limit)
          .lean<CommentDoc[]>(),
        C.countDocuments(filter),
      ]);
      return { items: docs.map(toComment), total };
    },

    /** Replies of the given threads, oldest first, bounded. */
    async listReplies(
      rootIds: string[],
      opts: { includeHidden: boolean; maxDepth: number; limit: number },
    ): Promise<Comment[]> {
      if (rootIds.length === 0) return [];
      const docs = await C.find({
        rootId: { $in: rootIds.map(oid) },
        depth: { $lte: opts.maxDepth },
        ...(opts.includeHidden ? {} : PUBLIC),
      })
        .sort({ createdAt: 1, _id: 1 })
        .limit(opts.limit)
        .lean<CommentDoc[]>();
      return docs.map(toComment);
    },

    /** Applies an author's edit; returns the comment as it was before (for previousRating). */
    async edit(
      id: string,
      authorId: string,
      changes: { text?: string; rating?: number },
      now: Date,
    ): Promise<{ before: Comment; after: Comment } | null> {
      const before = await C.findOneAndUpdate(
        { _id: oid(id), authorId, status: { $ne: 'DELETED' } },
        { $set: { ...changes, editedAt: now, updatedAt: now } },
        { returnDocument: 'before' },
      ).lean<CommentDoc>();
      if (!before) return null;
      const after = { ...toComment(before), ...changes, editedAt: now, updatedAt: now };
      return { before: toComment(before), after };
    },

    /** Removes a comment that has no replies; returns it, or null if it has replies (or is gone). */
    async removeIfLeaf(id: string): Promise<Comment | null> {
      return maybe(await C.findOneAndDelete({ _id: oid(id), replyCount: 0 }).lean<CommentDoc>());
    },

    /** Turns a live comment into a tombstone; returns it as it was before. */
    async tombstone(id: string, by: 'author' | 'moderator', now: Date): Promise<Comment | null> {
      return maybe(
        await C.findOneAndUpdate(
          { _id: oid(id), status: { $ne: 'DELETED' } },
          {
            $set: {
              status: 'DELETED',
              text: null,
              rating: null,
              // A hidden review's tombstone keeps its reason: it stays out of public view, and
              // the replies hidden with it stay hidden (docs/adr/0060).
              deletedAt: now,
              deletedBy: by,
              updatedAt: now,
            },
            $unset: { reviewSlot: 1, queuedAt: 1 },
          },
          { returnDocument: 'before' },
        ).lean<CommentDoc>(),
      );
    },

    /**
     * Keeps the slot of a review that goes (docs/adr/0060), in the transaction that removes or
     * tombstones it: the slot passes from the review to the hold in one commit, so there is
     * no moment at which the author could take it. Idempotent.
     */
    async holdSlot(review: Comment, reason: 'removed' | 'hidden', now: Date): Promise<void> {
      if (review.depth !== 0 || review.authorId === null) return;
      const _id = slotOf(review.productId, review.authorId);
      await Held.updateOne(
        { _id },
        {
          $setOnInsert: {
            productId: review.productId,
            userId: review.authorId,
            commentId: review.id,
            reason,
            heldAt: now,
          },
        },
        { upsert: true },
      );
    },

    /** Whether the author's slot for the product is kept by a moderated review. */
    async isSlotHeld(productId: string, userId: string): Promise<boolean> {
      return (await Held.exists({ _id: slotOf(productId, userId) })) !== null;
    },

    /** Removes a tombstone nobody replies to any more. */
    async removeEmptyTombstone(id: string): Promise<Comment | null> {
      return maybe(
        await C.findOneAndDelete({
          _id: oid(id),
          status: 'DELETED',
          replyCount: { $lte: 0 },
        }).lean<CommentDoc>(),
      );
    },

    /**
     * Counts a flag (and its trusted weight); returns the comment after the count, or null if
     * it is gone or deleted.
     */
    async addFlag(id: string, trusted: boolean, now: Date): Promise<Comment | null> {
      return maybe(
        await C.findOneAndUpdate(
          { _id: oid(id), status: { $ne: 'DELETED' } },
          {
            $inc: { flags: 1, flagsSinceReview: 1, trustedFlagsSinceReview: trusted ? 1 : 0 },
            $set: { updatedAt: now },
          },
          { returnDocument: 'after' },
        ).lean<CommentDoc>(),
      );
    },

    /** Puts a live comment in the moderation queue (once: an earlier queuedAt stays). */
    async enqueue(id: string, now: Date): Promise<boolean> {
      const res = await C.updateOne(
        { _id: oid(id), status: { $ne: 'DELETED' } },
        { $min: { queuedAt: now } },
      );
      return res.modifiedCount === 1;
    },

    /**
     * visible → hidden, and in the moderation queue; names the state it leaves, so it happens
     * once.
     */
    async hide(id: string, reason: 'flags' | 'moderator', now: Date): Promise<boolean> {
      const res = await C.updateOne(
        {
          _id: oid(id),
          status: reason === 'flags' ? 'VISIBLE' : { $ne: 'DELETED' },
        },
        {
          $set: { status: 'HIDDEN', hiddenReason: reason, updatedAt: now },
          $min: { queuedAt: now },
        },
      );
      return res.modifiedCount === 1;
    },

    /**
     * A moderator's approval: visible again, out of the queue, and the flag counts for review
     * start over.
     */
    async approve(id: string, now: Date): Promise<Comment | null> {
      return maybe(
        await C.findOneAndUpdate(
          { _id: oid(id), status: { $ne: 'DELETED' } },
          {
            $set: {
              status: 'VISIBLE',
              hiddenReason: null,
              flagsSinceReview: 0,
              trustedFlagsSinceReview: 0,
              updatedAt: now,
            },
            $unset: { queuedAt: 1 },
          },
          { returnDocument: 'after' },
        ).lean<CommentDoc>(),
      );
    },

    async addHelpful(id: string, delta: 1 | -1): Promise<Comment | null> {
      return maybe(
        await C.findOneAndUpdate(
          { _id: oid(id) },
          { $inc: { helpfulCount: delta } },
          { returnDocument: 'after' },
        ).lean<CommentDoc>(),
      );
    },

    /** product.deleted: every comment of the product goes, and its held slots (idempotent). */
    async removeByProduct(productId: string): Promise<number> {
      const res = await C.deleteMany({ productId });
      await Held.deleteMany({ productId });
      return res.deletedCount;
    },

    /** user.deleted: the author is replaced on every comment; their review slots are freed. */
    async anonymiseAuthor(userId: string): Promise<number> {
      const res = await C.updateMany(
        { authorId: userId },
        { $set: { authorId: null, authorName: ANONYMISED_AUTHOR_NAME }, $unset: { reviewSlot: 1 } },
      );
      // Held slots name the user; a deleted account writes nothing more, so they can go.
      await Held.deleteMany({ userId });
      return res.modifiedCount;
    },

    async setAuthorName(userId: string, name: string): Promise<void> {
      await C.updateMany({ authorId: userId }, { $set: { authorName: name } });
    },

    async count(filter: { productId?: string } = {}): Promise<number> {
      return C.countDocuments(filter);
    },
  };
}

export type CommentStore = ReturnType<typeof createCommentStore>;
