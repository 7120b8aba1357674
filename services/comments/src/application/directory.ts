import type { Logger } from '@ecom/common/logging';
import type { Stores } from '../store';

/**
 * What other services' events change here. Each handler is idempotent by itself (replaying it
 * changes nothing), since the processed marker is not atomic with its writes.
 */
export function createDirectory({ stores, logger }: { stores: Stores; logger: Logger }) {
  return {
    /** The product is remembered as deleted, then its comments, flags and votes go. */
    async productDeleted(productId: string): Promise<void> {
      // The marker first: a comment written concurrently sees it and withdraws itself.
      await stores.directory.markProductDeleted(productId, new Date());
      const removed = await stores.comments.removeByProduct(productId);
      await stores.flags.removeByProduct(productId);
      await stores.votes.removeByProduct(productId);
      logger.info('product comments removed', { productId, removed });
    },

    /** The user's comments are anonymised and their flags, votes and flag record removed. */
    async userDeleted(userId: string): Promise<void> {
      // The marker first: a comment this user writes concurrently sees it and withdraws.
      await stores.directory.markUserDeleted(userId, new Date());
      const anonymised = await stores.comments.anonymiseAuthor(userId);
      await stores.flags.removeByUser(userId);
      await stores.votes.removeByUser(userId);
      await stores.directory.forgetFlagger(userId);
      logger.info('user comments anonymised', { userId, anonymised });
    },

    /** The display name shown on the user's comments, unless a newer event set one. */
    async userNamed(userId: string, name: string, asOf: Date): Promise<void> {
      if (await stores.directory.setUserName(userId, name, asOf)) {
        await stores.comments.setAuthorName(userId, name);
      }
    },
  };
}

export type Directory = ReturnType<typeof createDirectory>;
