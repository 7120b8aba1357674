import { BusinessRuleError, ConflictError, NotFoundError } from '@ecom/common/errors';
import { page, pageOffset, type Page, type PageQuery } from '@ecom/common/http';
import {
  assertCanDelete,
  assertCanEdit,
  assertRatingFitsKind,
  assertTextFits,
  assertVisible,
  isAdmin,
  replyDepth,
} from '../domain/rules';
import { buildThreads, toCommentView } from '../domain/thread';
import type { Actor, Comment, CommentView, SortOrder } from '../domain/types';
import type { Deletion, DeletionOutcome } from './deletion';
import {
  accountDeleted,
  assertAccountActive,
  loadFor,
  ownProduct,
  type CommentsDeps,
} from './deps';

export interface NewCommentInput {
  productId: string;
  text: string;
  rating?: number | null;
  parentId?: string | null;
}

export type CommentListQuery = PageQuery & { sort: SortOrder };

/**
 * Reviews and replies: reading threads, writing, editing and deleting. They load, ask the
 * domain rules, write through the stores with conditional updates and publish the events.
 */
export function createComments(deps: CommentsDeps, deletion: Deletion) {
  const { stores, catalog, events, rules, now } = deps;

  const productGone = (productId: string) => new NotFoundError('Product not found', { productId });
  /** The author's review of the product was moderated: its slot stays taken (docs/adr/0060). */
  const slotHeld = (productId: string) =>
    new ConflictError('You have already reviewed this product', {
      productId,
      reason: 'review_moderated',
    });

  return {
    async listForProduct(
      productId: string,
      query: CommentListQuery,
      actor: Actor | undefined,
    ): Promise<Page<CommentView>> {
      const includeHidden = isAdmin(actor);
      const { items, total } = await stores.comments.listTopLevel(productId, {
        includeHidden,
        sort: query.sort,
        skip: pageOffset(query),
        limit: query.limit,
      });
      const replies = await stores.comments.listReplies(
        items.map((c) => c.id),
        { includeHidden, maxDepth: rules.maxThreadDepth, limit: rules.maxRepliesPerPage },
      );
      return page(buildThreads(items, replies, actor, rules.maxThreadDepth), query, total);
    },

    async get(id: string, actor: Actor | undefined): Promise<CommentView> {
      const c = assertVisible(await stores.comments.findById(id), actor);
      return toCommentView(c, actor);
    },

    async create(actor: Actor, input: NewCommentInput): Promise<CommentView> {
      const parentId = input.parentId ?? null;
      assertTextFits(input.text, rules.maxTextLength);
      assertRatingFitsKind(parentId !== null, input.rating);
      await assertAccountActive(stores, actor);
      if (await stores.directory.isProductDeleted(input.productId)) {
        throw productGone(input.productId);
      }
      let parent: Comment | null = null;
      let depth = 0;
      if (parentId !== null) {
        parent = await loadFor(stores, parentId, actor, false);
        depth = replyDepth(parent, input.productId, rules.maxThreadDepth);
      }
      // Before the product service is asked: a moderated review's author is refused at once.
      if (parent === null && (await stores.comments.isSlotHeld(input.productId, actor.id))) {
        throw slotHeld(input.productId);
      }
      // 503 here (product service down) leaves nothing written.
      const product = await catalog.find(input.productId);
      if (!product) throw productGone(input.productId);
      // A seller answers reviews of its products; it does not rate them.
      if (parent === null && product.sellerId === actor.id) throw ownProduct();
      if (parent && !(await stores.comments.reserveReply(parent.id))) {
        throw new BusinessRuleError(
          'Cannot reply to a deleted comment',
          { parentId: parent.id },
          'PARENT_DELETED',
        );
      }
      let created: Comment;
      try {
        // The comment and comment.created commit together: a crash cannot keep one without
        // the other.
        created = await events.transaction(async () => {
          const inserted = await stores.comments.insert({
            productId: input.productId,
            authorId: actor.id,
            authorName: await stores.directory.userName(actor.id),
            parent,
            depth,
            text: input.text,
            rating: parent ? null : (input.rating ?? null),
            now: now(),
          });
          await events.publish('comment.created', {
            commentId: inserted.id,
            productId: inserted.productId,
            userId: actor.id,
            rating: inserted.rating,
            parentId: inserted.parentId,
          });
          return inserted;
        });
      } catch (err) {
        if (parent) await stores.comments.releaseReply(parent.id);
        throw err;
      }
      // product.deleted may have been handled while we wrote: its marker came before its
      // delete, so either that delete removed this comment or we see the marker now. Checked
      // after the commit, outside the transaction, whose snapshot could hide a marker written
      // meanwhile; the comment is then taken back, comment.deleted after comment.created.
      if (await stores.directory.isProductDeleted(input.productId)) {
        await deletion.withdraw(created);
        throw productGone(input.productId);
      }
      // Same for user.deleted: its marker precedes its anonymisation.
      if (await stores.directory.isUserDeleted(actor.id)) {
        await deletion.withdraw(created);
        throw accountDeleted();
      }
      // And for a moderated review of the author's that went meanwhile: its hold was written
      // in the commit that freed the slot this review then took, so it is seen now.
      if (parent === null && (await stores.comments.isSlotHeld(input.productId, actor.id))) {
        await deletion.withdraw(created);
        throw slotHeld(input.productId);
      }
      return toCommentView(created, actor);
    },

    async edit(
      actor: Actor,
      id: string,
      changes: { text?: string; rating?: number },
    ): Promise<CommentView> {
      assertTextFits(changes.text, rules.maxTextLength);
      const c = await loadFor(stores, id, actor, true);
      assertCanEdit(c, actor);
      if (changes.rating !== undefined) {
        assertRatingFitsKind(c.depth > 0, changes.rating);
        // A review its seller wrote before sellers were refused may keep its words, not be
        // re-rated. A product gone (null) has no seller left to favour.
        const product = await catalog.find(c.productId);
        if (product?.sellerId === actor.id) throw ownProduct();
      }
      const result = await events.transaction(async () => {
        const edited = await stores.comments.edit(id, actor.id, changes, now());
        if (!edited) throw new NotFoundError('Comment not found');
        await events.publish('comment.updated', {
          commentId: id,
          productId: c.productId,
          rating: edited.after.rating,
          previousRating: edited.before.rating,
        });
        return edited;
      });
      return toCommentView(result.after, actor);
    },

    /** The author's or an admin's delete: the comment goes, or stays as a tombstone. */
    async remove(actor: Actor, id: string): Promise<DeletionOutcome> {
      const c = await loadFor(stores, id, actor, true);
      assertCanDelete(c, actor);
      return deletion.deleteComment(c, c.authorId === actor.id ? 'author' : 'moderator');
    },
  };
}

export type Comments = ReturnType<typeof createComments>;
