import type { Role } from '@ecom/common/auth';

/** A tombstone (DELETED) keeps a thread together after its comment was deleted. */
export const COMMENT_STATUSES = ['VISIBLE', 'HIDDEN', 'DELETED'] as const;
export type CommentStatus = (typeof COMMENT_STATUSES)[number];

export interface Comment {
  id: string;
  productId: string;
  /** null once the author's account was deleted (anonymised). */
  authorId: string | null;
  authorName: string | null;
  parentId: string | null;
  /** The top-level review of the thread (null for the review itself). */
  rootId: string | null;
  /** 0 for a top-level review, parent depth + 1 for a reply. */
  depth: number;
  text: string | null;
  /** 1..5 for a live review, null for replies and tombstones. */
  rating: number | null;
  status: CommentStatus;
  hiddenReason: 'flags' | 'moderator' | null;
  /** Every flag ever received, and those received since the last moderator approval. */
  flags: number;
  flagsSinceReview: number;
  /** Flags since the last approval from trusted flaggers (see `isTrustedFlagger`). */
  trustedFlagsSinceReview: number;
  /** When it entered the moderation queue; null when no moderator decision is pending. */
  queuedAt: Date | null;
  helpfulCount: number;
  /** Direct replies still stored (live or tombstones): decides tombstone vs removal. */
  replyCount: number;
  createdAt: Date;
  updatedAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  deletedBy: 'author' | 'moderator' | null;
}

/** The identity of whoever asks; undefined for anonymous readers. */
export interface Actor {
  id: string;
  role: Role;
}

export type SortOrder = 'newest' | 'helpful';

export type ModerationAction = 'approve' | 'hide' | 'remove';

/** What a moderator's decision says about the flags it answers. */
export type FlagOutcome = 'upheld' | 'rejected';

/** What the service knows about someone who flags, when they flag. */
export interface FlaggerStanding {
  /**
   * An upper bound of the account's creation time: the earliest user.* event seen for it (the
   * user.created timestamp when that was seen). null when no event about the account arrived.
   */
  knownSince: Date | null;
  /** Their earlier flags that moderators upheld (hide, remove) or rejected (approve). */
  flagsUpheld: number;
  flagsRejected: number;
}

/** How flags turn into moderation. */
export interface FlagPolicy {
  /** Flags since the last approval that put a comment in the moderation queue. */
  reviewThreshold: number;
  /** Trusted flags since the last approval that hide a comment pending review. */
  hideThreshold: number;
  /** The age an account needs before its flags count as trusted. */
  trustedAccountAgeDays: number;
}

/** A comment as the API returns it: plain JSON data, text never rendered or altered. */
export interface CommentView {
  id: string;
  productId: string;
  parentId: string | null;
  depth: number;
  author: { id: string | null; name: string | null } | null;
  text: string | null;
  rating: number | null;
  status: CommentStatus;
  deleted: boolean;
  helpfulCount: number;
  replyCount: number;
  createdAt: string;
  updatedAt: string;
  editedAt: string | null;
  /** Moderation details, for admins only. */
  moderation?: {
    flags: number;
    flagsSinceReview: number;
    trustedFlagsSinceReview: number;
    hiddenReason: string | null;
    queuedAt: string | null;
  };
  replies?: CommentView[];
}
