import {
  ANONYMISED_AUTHOR_NAME,
  assertCanDelete,
  assertCanEdit,
  assertCanReact,
  assertRatingFitsKind,
  assertTextFits,
  assertVisible,
  deletionOutcome,
  isVisibleTo,
  moderationEffect,
  afterFlag,
  isTrustedFlagger,
  replyDepth,
} from '../src/domain/rules';
import { buildThreads, toCommentView } from '../src/domain/thread';
import type { Actor, Comment } from '../src/domain/types';

let seq = 0;
function comment(over: Partial<Comment> = {}): Comment {
  seq += 1;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, seq));
  return {
    id: `c${String(seq).padStart(3, '0')}`,
    productId: 'p1',
    authorId: 'alice',
    authorName: 'Alice',
    parentId: null,
    rootId: null,
    depth: 0,
    text: 'text',
    rating: 5,
    status: 'VISIBLE',
    hiddenReason: null,
    flags: 0,
    flagsSinceReview: 0,
    trustedFlagsSinceReview: 0,
    queuedAt: null,
    helpfulCount: 0,
    replyCount: 0,
    createdAt: at,
    updatedAt: at,
    editedAt: null,
    deletedAt: null,
    deletedBy: null,
    ...over,
  };
}

const alice: Actor = { id: 'alice', role: 'customer' };
const bob: Actor = { id: 'bob', role: 'customer' };
const admin: Actor = { id: 'root', role: 'admin' };

describe('visibility', () => {
  it('shows hidden comments to admins only', () => {
    const hidden = comment({ status: 'HIDDEN' });
    expect(isVisibleTo(hidden, undefined)).toBe(false);
    expect(isVisibleTo(hidden, alice)).toBe(false);
    expect(isVisibleTo(hidden, admin)).toBe(true);
    expect(isVisibleTo(comment({ status: 'DELETED' }), undefined)).toBe(true);
    expect(() => assertVisible(hidden, bob)).toThrow(expect.objectContaining({ status: 404 }));
    expect(() => assertVisible(null, admin)).toThrow(expect.objectContaining({ status: 404 }));
  });
});

describe('ratings', () => {
  it('a review needs one, a reply has none', () => {
    expect(() => assertRatingFitsKind(false, 4)).not.toThrow();
    expect(() => assertRatingFitsKind(false, undefined)).toThrow(
      expect.objectContaining({ status: 400 }),
    );
    expect(() => assertRatingFitsKind(false, null)).toThrow(
      expect.objectContaining({ status: 400 }),
    );
    expect(() => assertRatingFitsKind(true, undefined)).not.toThrow();
    expect(() => assertRatingFitsKind(true, null)).not.toThrow();
    expect(() => assertRatingFitsKind(true, 3)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('text length', () => {
  it('is bounded by the configured maximum (400 beyond it)', () => {
    expect(() => assertTextFits('x'.repeat(10), 10)).not.toThrow();
    expect(() => assertTextFits(undefined, 10)).not.toThrow();
    expect(() => assertTextFits('x'.repeat(11), 10)).toThrow(
      expect.objectContaining({
        status: 400,
        code: 'VALIDATION_ERROR',
        details: [expect.objectContaining({ location: 'body', field: 'text' })],
      }),
    );
  });
});

describe('replyDepth', () => {
  it('is the parent depth + 1 within the bound', () => {
    expect(replyDepth(comment({ depth: 0 }), 'p1', 3)).toBe(1);
    expect(replyDepth(comment({ depth: 2 }), 'p1', 3)).toBe(3);
  });
  it('refuses too deep threads, other products and tombstones (422)', () => {
    expect(() => replyDepth(comment({ depth: 3 }), 'p1', 3)).toThrow(
      expect.objectContaining({ status: 422, code: 'THREAD_TOO_DEEP' }),
    );
    expect(() => replyDepth(comment(), 'p2', 3)).toThrow(
      expect.objectContaining({ status: 422, code: 'PARENT_PRODUCT_MISMATCH' }),
    );
    expect(() => replyDepth(comment({ status: 'DELETED' }), 'p1', 3)).toThrow(
      expect.objectContaining({ status: 422, code: 'PARENT_DELETED' }),
    );
  });
});

describe('edit and delete permissions', () => {
  it('only the author edits', () => {
    const c = comment();
    expect(() => assertCanEdit(c, alice)).not.toThrow();
    expect(() => assertCanEdit(c, bob)).toThrow(expect.objectContaining({ status: 403 }));
    expect(() => assertCanEdit(c, admin)).toThrow(expect.objectContaining({ status: 403 }));
    expect(() => assertCanEdit(comment({ status: 'DELETED' }), alice)).toThrow(
      expect.objectContaining({ status: 404 }),
    );
    // Once anonymised, nobody is the author any more.
    expect(() => assertCanEdit(comment({ authorId: null }), alice)).toThrow(
      expect.objectContaining({ status: 403 }),
    );
  });
  it('the author or an admin deletes', () => {
    const c = comment();
    expect(() => assertCanDelete(c, alice)).not.toThrow();
    expect(() => assertCanDelete(c, admin)).not.toThrow();
    expect(() => assertCanDelete(c, bob)).toThrow(expect.objectContaining({ status: 403 }));
    expect(() => assertCanDelete(comment({ status: 'DELETED' }), admin)).toThrow(
      expect.objectContaining({ status: 404 }),
    );
  });
  it('a comment with replies becomes a tombstone', () => {
    expect(deletionOutcome({ replyCount: 0 })).toBe('remove');
    expect(deletionOutcome({ replyCount: 2 })).toBe('tombstone');
  });
});

describe('flags and votes', () => {
  it('are for other people’s live comments', () => {
    expect(() => assertCanReact(comment(), bob, 'flag')).not.toThrow();
    expect(() => assertCanReact(comment(), alice, 'flag')).toThrow(
      expect.objectContaining({ code: 'OWN_COMMENT_FLAG' }),
    );
    expect(() => assertCanReact(comment(), alice, 'vote')).toThrow(
      expect.objectContaining({ code: 'OWN_COMMENT_VOTE' }),
    );
    expect(() => assertCanReact(comment({ status: 'DELETED' }), bob, 'vote')).toThrow(
      expect.objectContaining({ code: 'COMMENT_DELETED' }),
    );
  });
  it('queue a comment at the review threshold; only trusted flags hide it', () => {
    const policy = { reviewThreshold: 3, hideThreshold: 5 };
    const after = (over: Partial<Comment>) => afterFlag(comment(over), policy);
    expect(after({ flagsSinceReview: 2 })).toEqual({ queue: false, hide: false });
    expect(after({ flagsSinceReview: 3 })).toEqual({ queue: true, hide: false });
    // Any number of untrusted flags: queued, never hidden.
    expect(after({ flagsSinceReview: 500, trustedFlagsSinceReview: 4 })).toEqual({
      queue: true,
      hide: false,
    });
    expect(after({ flagsSinceReview: 5, trustedFlagsSinceReview: 5 })).toEqual({
      queue: true,
      hide: true,
    });
    // Already queued, already hidden, or a tombstone: nothing more to do.
    const queuedAt = new Date();
    expect(after({ flagsSinceReview: 4, queuedAt })).toEqual({ queue: false, hide: false });
    expect(
      after({ status: 'HIDDEN', flagsSinceReview: 9, trustedFlagsSinceReview: 9, queuedAt }),
    ).toEqual({ queue: false, hide: false });
    expect(after({ status: 'DELETED', flagsSinceReview: 9 })).toEqual({
      queue: false,
      hide: false,
    });
    // Hiding queues it even when the review threshold is set higher than the hide threshold.
    expect(
      afterFlag(comment({ flagsSinceReview: 1, trustedFlagsSinceReview: 1 }), {
        reviewThreshold: 10,
        hideThreshold: 1,
      }),
    ).toEqual({ queue: true, hide: true });
  });
  it('weigh a flagger by account age and by how moderators answered their flags', () => {
    const now = new Date(Date.UTC(2026, 5, 1));
    const daysAgo = (d: number) => new Date(now.getTime() - d * 24 * 60 * 60 * 1000);
    const standing = (knownSince: Date | null, flagsUpheld = 0, flagsRejected = 0) => ({
      knownSince,
      flagsUpheld,
      flagsRejected,
    });
    expect(isTrustedFlagger(standing(null), now, 30)).toBe(false);
    expect(isTrustedFlagger(standing(daysAgo(29)), now, 30)).toBe(false);
    expect(isTrustedFlagger(standing(daysAgo(30)), now, 30)).toBe(true);
    expect(isTrustedFlagger(standing(daysAgo(400), 0, 1), now, 30)).toBe(false);
    expect(isTrustedFlagger(standing(daysAgo(400), 2, 2), now, 30)).toBe(true);
    expect(isTrustedFlagger(standing(now), now, 0)).toBe(true);
  });
  it('moderation maps actions to effects and refuses tombstones', () => {
    expect(moderationEffect(comment({ status: 'HIDDEN' }), 'approve')).toBe('show');
    expect(moderationEffect(comment(), 'hide')).toBe('hide');
    expect(moderationEffect(comment(), 'remove')).toBe('delete');
    expect(() => moderationEffect(comment({ status: 'DELETED' }), 'approve')).toThrow(
      expect.objectContaining({ status: 404 }),
    );
  });
});

describe('views and threads', () => {
  it('a tombstone keeps its place without text, rating or author', () => {
    const v = toCommentView(comment({ status: 'DELETED', text: 'secret', rating: 4 }), undefined);
    expect(v).toMatchObject({ deleted: true, text: null, rating: null, author: null });
    expect(v.moderation).toBeUndefined();
    expect(toCommentView(comment({ flags: 2 }), admin).moderation).toEqual({
      flags: 2,
      flagsSinceReview: 0,
      trustedFlagsSinceReview: 0,
      hiddenReason: null,
      queuedAt: null,
    });
    const queuedAt = new Date(Date.UTC(2026, 1, 2));
    expect(toCommentView(comment({ queuedAt }), admin).moderation!.queuedAt).toBe(
      queuedAt.toISOString(),
    );
    expect(ANONYMISED_AUTHOR_NAME).toBe('Deleted user');
  });

  it('nests replies oldest first, bounded in depth, without hidden subtrees', () => {
    const root = comment();
    const r1 = comment({ parentId: root.id, rootId: root.id, depth: 1, rating: null });
    const r2 = comment({
      parentId: root.id,
      rootId: root.id,
      depth: 1,
      rating: null,
      status: 'HIDDEN',
    });
    const r2child = comment({ parentId: r2.id, rootId: root.id, depth: 2, rating: null });
    const r1a = comment({ parentId: r1.id, rootId: root.id, depth: 2, rating: null });
    const r1b = comment({ parentId: r1a.id, rootId: root.id, depth: 3, rating: null });
    const tooDeep = comment({ parentId: r1b.id, rootId: root.id, depth: 4, rating: null });
    // Given newest first, as a store might return them.
    const replies = [tooDeep, r1b, r1a, r2child, r2, r1];

    const [pub] = buildThreads([root], replies, undefined, 3);
    expect(pub!.replies!.map((r) => r.id)).toEqual([r1.id]);
    expect(pub!.replies![0]!.replies![0]!.id).toBe(r1a.id);
    expect(pub!.replies![0]!.replies![0]!.replies![0]!.id).toBe(r1b.id);
    expect(pub!.replies![0]!.replies![0]!.replies![0]!.replies).toEqual([]);

    const [adm] = buildThreads([root], replies, admin, 3);
    expect(adm!.replies!.map((r) => r.id)).toEqual([r1.id, r2.id]);
    expect(adm!.replies![1]!.replies!.map((r) => r.id)).toEqual([r2child.id]);

    expect(buildThreads([comment({ status: 'HIDDEN' })], [], alice, 3)).toEqual([]);
  });
});
