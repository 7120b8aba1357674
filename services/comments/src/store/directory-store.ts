import { isDuplicateKey } from '@ecom/common/mongo';
import type { Models } from './models';

/**
 * What this service keeps from other services' events: deleted products (so no comment is
 * written for them after the deletion) and user display names.
 */
export function createDirectoryStore(models: Models) {
  const { DeletedProduct, User } = models;
  return {
    async markProductDeleted(productId: string, now: Date): Promise<void> {
      await DeletedProduct.updateOne(
        { _id: productId },
        { $setOnInsert: { deletedAt: now } },
        { upsert: true },
      );
    },

    async isProductDeleted(productId: string): Promise<boolean> {
      return (await DeletedProduct.exists({ _id: productId })) !== null;
    },

    /** Upserts a name unless a newer event already wrote one; true when the name was stored. */
    async setUserName(userId: string, name: string, asOf: Date): Promise<boolean> {
      const res = await User.updateOne(
        { _id: userId, asOf: { $lte: asOf }, deleted: { $ne: true } },
        { $set: { name, asOf } },
      );
      if (res.matchedCount === 1) return true;
      try {
        await User.create([{ _id: userId, name, asOf }]);
        return true;
      } catch (err) {
        // Exists with a newer asOf (or a concurrent insert won): keep the newer name.
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    },

    async userName(userId: string): Promise<string | null> {
      const user = await User.findById(userId).lean();
      return user?.deleted ? null : (user?.name ?? null);
    },

    /** Forgets the name but remembers the deletion (a later user.updated cannot revive it). */
    async markUserDeleted(userId: string, now: Date): Promise<void> {
      await User.updateOne(
        { _id: userId },
        { $set: { name: null, deleted: true, asOf: now } },
        { upsert: true },
      );
    },

    async isUserDeleted(userId: string): Promise<boolean> {
      return (await User.exists({ _id: userId, deleted: true })) !== null;
    },
  };
}

export type DirectoryStore = ReturnType<typeof createDirectoryStore>;
