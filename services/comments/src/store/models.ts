import { Schema, type Connection, type Types } from 'mongoose';
import { COMMENT_STATUSES, type Comment, type FlagOutcome } from '../domain/types';

/** A comment as stored: the domain shape with ObjectId references. */
export interface CommentDoc extends Omit<
  Comment,
  'id' | 'parentId' | 'rootId' | 'trustedFlagsSinceReview' | 'queuedAt'
> {
  _id: Types.ObjectId;
  parentId: Types.ObjectId | null;
  rootId: Types.ObjectId | null;
  /** Absent on comments stored before flags were weighted. */
  trustedFlagsSinceReview?: number;
  /**
   * Set while a moderator decision is pending (the moderation queue), absent otherwise, so a
   * partial index holds only the queue.
   */
  queuedAt?: Date;
  /**
   * `<productId>|<authorId>` on a live review only. A unique index over the documents that
   * have it makes "one review per user per product" race-free; deleting or anonymising a
   * review unsets it, freeing the slot.
   */
  reviewSlot?: string;
}

/**
 * A review slot kept after its review went (docs/adr/0060): the review was removed by a
 * moderator, or deleted by its author while hidden. `_id` is the slot (`<productId>|<userId>`),
 * so the author's next review of the product is refused with 409, as a live review's is.
 */
export interface HeldReviewSlotDoc {
  _id: string;
  productId: string;
  userId: string;
  /** The review that held it. */
  commentId: string;
  /** `removed`: by a moderator (remove, or an admin's DELETE); `hidden`: deleted while hidden. */
  reason: 'removed' | 'hidden';
  heldAt: Date;
}

/** One per (comment, user): the unique index makes "flag once" and "vote once" race-free. */
export interface ReactionDoc {
  _id: Types.ObjectId;
  commentId: Types.ObjectId;
  productId: string;
  userId: string;
  reason?: string;
  /** Flags only: the flagger carried trusted weight when flagging. */
  trusted?: boolean;
  /** Flags only: the moderator's decision that answered it (absent while none has). */
  outcome?: FlagOutcome;
  /** Flags only: the decision that settled it (to count each flagger once per decision). */
  settlement?: string;
  createdAt: Date;
}

/** Products known to be deleted (from product.deleted): no comment may be written for them. */
export interface DeletedProductDoc {
  _id: string;
  deletedAt: Date;
}

/** Display names of users, kept from user.created / user.updated; deleted users stay marked. */
export interface UserDoc {
  _id: string;
  name: string | null;
  /** Set by user.deleted: the account is gone, its tokens may not write any more. */
  deleted?: boolean;
  /** Timestamp of the event that wrote the name: an older event never overwrites a newer one. */
  asOf: Date;
  /**
   * The earliest user.created / user.updated timestamp seen: the account's creation time once
   * user.created arrived, an upper bound of it otherwise (flag weighting reads it as its age).
   * Absent on users stored before it existed; `asOf` is an upper bound for those.
   */
  since?: Date;
}

/** A flagger's track record: how moderators answered their flags (user id as _id). */
export interface FlaggerRecordDoc {
  _id: string;
  upheld: number;
  rejected: number;
}

const commentSchema = new Schema<CommentDoc>(
  {
    productId: { type: String, required: true },
    authorId: { type: String, default: null },
    authorName: { type: String, default: null },
    parentId: { type: Schema.Types.ObjectId, default: null },
    rootId: { type: Schema.Types.ObjectId, default: null },
    depth: { type: Number, required: true },
    text: { type: String, default: null },
    rating: { type: Number, default: null },
    status: { type: String, required: true, enum: COMMENT_STATUSES },
    hiddenReason: { type: String, default: null },
    flags: { type: Number, default: 0 },
    flagsSinceReview: { type: Number, default: 0 },
    trustedFlagsSinceReview: { type: Number, default: 0 },
    queuedAt: { type: Date },
    helpfulCount: { type: Number, default: 0 },
    replyCount: { type: Number, default: 0 },
    reviewSlot: { type: String },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    editedAt: { type: Date, default: null },
    deletedAt: { type: Date, default: null },
    deletedBy: { type: String, default: null },
  },
  { collection: 'comments', versionKey: false, minimize: false },
);
commentSchema.index(
  { reviewSlot: 1 },
  { unique: true, partialFilterExpression: { reviewSlot: { $exists: true } } },
);
// The two sorted listings, each with the _id its sort breaks ties by: MongoDB walks these in
// order and stops after one page (without _id it sorted all of a product's reviews).
commentSchema.index({ productId: 1, depth: 1, createdAt: -1, _id: -1 });
commentSchema.index({ productId: 1, depth: 1, helpfulCount: -1, createdAt: -1, _id: -1 });
// The stand-in only uses indexes whose every field the filter names by equality: this one lets
// it find a product's reviews (and count them) without scanning every comment (2-3x faster
// listings in the embedded run). A redundant prefix for MongoDB, which it does not hurt.
commentSchema.index({ productId: 1, depth: 1 });
// Single field: the stand-in, like MongoDB, answers `rootId: { $in: [...] }` from it.
commentSchema.index({ rootId: 1 });
// The replies of a page's threads, oldest first: MongoDB merges each thread's run of this index
// and stops at the replies' limit, however many replies a thread has (with `rootId` alone it
// fetched and sorted every reply of every thread on the page).
commentSchema.index({ rootId: 1, createdAt: 1, _id: 1 });
commentSchema.index({ authorId: 1 });
commentSchema.index({ status: 1 });
// The moderation queue, oldest first; only queued comments carry the field.
commentSchema.index({ queuedAt: 1 }, { partialFilterExpression: { queuedAt: { $exists: true } } });

const reactionSchema = new Schema<ReactionDoc>(
  {
    commentId: { type: Schema.Types.ObjectId, required: true },
    productId: { type: String, required: true },
    userId: { type: String, required: true },
    reason: { type: String },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
reactionSchema.index({ commentId: 1, userId: 1 }, { unique: true });
reactionSchema.index({ productId: 1 });
reactionSchema.index({ userId: 1 });

const flagSchema = reactionSchema.clone();
flagSchema.add({
  trusted: { type: Boolean },
  outcome: { type: String, enum: ['upheld', 'rejected'] },
  settlement: { type: String },
});

const flaggerRecordSchema = new Schema<FlaggerRecordDoc>(
  {
    _id: { type: String, required: true },
    upheld: { type: Number, default: 0 },
    rejected: { type: Number, default: 0 },
  },
  { collection: 'flagger_records', versionKey: false },
);

const heldReviewSlotSchema = new Schema<HeldReviewSlotDoc>(
  {
    _id: { type: String, required: true },
    productId: { type: String, required: true },
    userId: { type: String, required: true },
    commentId: { type: String, required: true },
    reason: { type: String, required: true, enum: ['removed', 'hidden'] },
    heldAt: { type: Date, required: true },
  },
  { collection: 'held_review_slots', versionKey: false },
);
// product.deleted and user.deleted release them.
heldReviewSlotSchema.index({ productId: 1 });
heldReviewSlotSchema.index({ userId: 1 });

const deletedProductSchema = new Schema<DeletedProductDoc>(
  { _id: { type: String, required: true }, deletedAt: { type: Date, required: true } },
  { collection: 'deleted_products', versionKey: false },
);

const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, default: null },
    deleted: { type: Boolean },
    asOf: { type: Date, required: true },
    since: { type: Date },
  },
  { collection: 'users', versionKey: false },
);

export function createModels(connection: Connection) {
  return {
    Comment: connection.model<CommentDoc>('Comment', commentSchema),
    Flag: connection.model<ReactionDoc>('Flag', flagSchema, 'flags'),
    Vote: connection.model<ReactionDoc>('HelpfulVote', reactionSchema.clone(), 'helpful_votes'),
    DeletedProduct: connection.model<DeletedProductDoc>('DeletedProduct', deletedProductSchema),
    User: connection.model<UserDoc>('User', userSchema),
    FlaggerRecord: connection.model<FlaggerRecordDoc>('FlaggerRecord', flaggerRecordSchema),
    HeldReviewSlot: connection.model<HeldReviewSlotDoc>('HeldReviewSlot', heldReviewSlotSchema),
  };
}

export type Models = ReturnType<typeof createModels>;
