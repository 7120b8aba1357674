import { isDuplicateKey } from '@ecom/common/mongo';
import type { FlaggerStanding, FlagOutcome } from '../domain/types';
import type { Models } from './models';

/**
 * What this service keeps from other services' events: deleted products (so no comment is
 * written for them after the deletion), user display names and how long an account has been
 * known; and, of its own, flaggers' track records.
 */
export function createDirectoryStore(models: Models) {
  const { DeletedProduct, User, FlaggerRecord } = models;

  /** Upserts a name unless a newer event already wrote one; true when the name was stored. */
  async function storeName(userId: string, name: string, asOf: Date): Promise<boolean> {
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
  }

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

    /**
     * Upserts a name unless a newer event already wrote one; true when the name was stored.
     * Whatever the order of events, `since` keeps the earliest event time seen: the account
     * existed by then (user.created's time is its creation).
     */
    async setUserName(userId: string, name: string, asOf: Date): Promise<boolean> {
      // Users stored before `since` existed have only `asOf`, which the name update below may
      // move forward: it is an upper bound of the creation time too, so it is kept.
      const before = await User.findById(userId, { since: 1, asOf: 1 }).lean();
      const stored = await storeName(userId, name, asOf);
      const legacy = before && !before.since ? before.asOf : undefined;
      const since = legacy && legacy < asOf ? legacy : asOf;
      await User.updateOne({ _id: userId }, { $min: { since } });
      return stored;
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

    /** What flag weighting needs to know about a flagger. */
    async flaggerStanding(userId: string): Promise<FlaggerStanding> {
      const [user, record] = await Promise.all([
        User.findById(userId, { since: 1, asOf: 1, deleted: 1 }).lean(),
        FlaggerRecord.findById(userId).lean(),
      ]);
      return {
        knownSince: user && !user.deleted ? (user.since ?? user.asOf ?? null) : null,
        flagsUpheld: record?.upheld ?? 0,
        flagsRejected: record?.rejected ?? 0,
      };
    },

    /** Counts a moderator's decision on each of these flaggers' records (one flag each). */
    async recordFlagOutcomes(userIds: string[], outcome: FlagOutcome): Promise<void> {
      if (userIds.length === 0) return;
      await FlaggerRecord.bulkWrite(
        userIds.map((userId) => ({
          updateOne: {
            filter: { _id: userId },
            update: { $inc: { [outcome]: 1 } },
            upsert: true,
          },
        })),
        { ordered: false },
      );
    },

    /** user.deleted: the record of a deleted account goes with it. */
    async forgetFlagger(userId: string): Promise<void> {
      await FlaggerRecord.deleteOne({ _id: userId });
    },
  };
}

export type DirectoryStore = ReturnType<typeof createDirectoryStore>;
