import { isAdmin, isVisibleTo } from './rules';
import type { Actor, Comment, CommentView } from './types';

/** Plain JSON for one comment; tombstones keep their place but lose text, rating and author. */
export function toCommentView(c: Comment, actor: Actor | undefined): CommentView {
  const tombstone = c.status === 'DELETED';
  return {
    id: c.id,
    productId: c.productId,
    parentId: c.parentId,
    depth: c.depth,
    author: tombstone ? null : { id: c.authorId, name: c.authorName },
    text: tombstone ? null : c.text,
    rating: tombstone ? null : c.rating,
    status: c.status,
    deleted: tombstone,
    helpfulCount: c.helpfulCount,
    replyCount: c.replyCount,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    editedAt: c.editedAt ? c.editedAt.toISOString() : null,
    ...(isAdmin(actor)
      ? {
          moderation: {
            flags: c.flags,
            flagsSinceReview: c.flagsSinceReview,
            trustedFlagsSinceReview: c.trustedFlagsSinceReview,
            hiddenReason: c.hiddenReason,
            queuedAt: c.queuedAt ? c.queuedAt.toISOString() : null,
          },
        }
      : {}),
  };
}

/**
 * Nests replies under their top-level reviews (oldest reply first), down to `maxDepth`.
 * A comment the actor may not see is left out together with everything below it.
 */
export function buildThreads(
  roots: Comment[],
  replies: Comment[],
  actor: Actor | undefined,
  maxDepth: number,
): CommentView[] {
  const children = new Map<string, Comment[]>();
  for (const r of replies) {
    if (r.parentId === null) continue;
    const list = children.get(r.parentId) ?? [];
    list.push(r);
    children.set(r.parentId, list);
  }
  const nest = (c: Comment): CommentView | undefined => {
    if (!isVisibleTo(c, actor)) return undefined;
    const view = toCommentView(c, actor);
    const kids = c.depth < maxDepth ? (children.get(c.id) ?? []) : [];
    view.replies = kids
      .slice()
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id))
      .map(nest)
      .filter((v): v is CommentView => v !== undefined);
    return view;
  };
  return roots.map(nest).filter((v): v is CommentView => v !== undefined);
}
