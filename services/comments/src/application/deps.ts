import { ForbiddenError, NotFoundError } from '@ecom/common/errors';
import type { OutboxEventPublisher } from '@ecom/common/mongo';
import type { ProductCatalog } from '../clients/catalog';
import { assertVisible } from '../domain/rules';
import type { Actor, Comment, FlagPolicy } from '../domain/types';
import type { Stores } from '../store';

export interface CommentRules {
  /** FLAG_REVIEW_THRESHOLD, FLAG_HIDE_THRESHOLD, FLAG_TRUSTED_ACCOUNT_AGE_DAYS. */
  flags: FlagPolicy;
  maxThreadDepth: number;
  maxRepliesPerPage: number;
  maxTextLength: number;
}

/** What every use case of the service works with. */
export interface CommentsDeps {
  stores: Stores;
  catalog: ProductCatalog;
  events: OutboxEventPublisher;
  rules: CommentRules;
  now: () => Date;
}

/** Hidden comments exist only for admins and, for deletion/editing, their author. */
export async function loadFor(
  stores: Stores,
  id: string,
  actor: Actor,
  authorMaySee: boolean,
): Promise<Comment> {
  const c = await stores.comments.findById(id);
  if (!c) throw new NotFoundError('Comment not found');
  if (authorMaySee && c.authorId !== null && c.authorId === actor.id) return c;
  return assertVisible(c, actor);
}

/** A product's seller may reply under its reviews, not review (rate) it. */
export const ownProduct = () =>
  new ForbiddenError('A seller cannot review its own product', { reason: 'own_product' });

/** A deleted account's tokens stay valid until they expire; they may not write meanwhile. */
export const accountDeleted = () =>
  new ForbiddenError('This account has been deleted', { reason: 'account_deleted' });

export async function assertAccountActive(stores: Stores, actor: Actor): Promise<void> {
  if (await stores.directory.isUserDeleted(actor.id)) throw accountDeleted();
}
