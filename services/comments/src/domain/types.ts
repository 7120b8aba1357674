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
  moderation?: { flags: number; flagsSinceReview: number; hiddenReason: string | null };
  replies?: CommentView[];
}
