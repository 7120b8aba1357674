import { Schema, type Connection } from 'mongoose';
import { isDuplicateKey } from '@ecom/common/mongo';

interface AdminGuardDoc {
  _id: string;
  /** Bumped by every admin change of an account; only the write matters, not the value. */
  changes: number;
  changedAt?: Date;
}

const GUARD_ID = 'user-administration';

const adminGuardSchema = new Schema<AdminGuardDoc>(
  {
    _id: { type: String, required: true },
    changes: { type: Number, required: true, default: 0 },
    changedAt: Date,
  },
  { collection: 'admin_guard', versionKey: false, strict: 'throw' },
);

/**
 * One document every admin change of an account (role change, deletion) writes first, inside
 * its transaction. MongoDB lets only one transaction at a time commit a write to a document (the
 * other gets a write conflict and is retried from the start), so these changes run one after
 * another and each sees the admins the previous one left: "is there another admin" and "is the
 * actor still an admin" hold when the change commits. Counting admins alone would not: two
 * transactions could each count the other admin and both demote.
 */
export function createAdminGuardStore(connection: Connection) {
  const Guard = connection.model<AdminGuardDoc>('AdminGuard', adminGuardSchema);

  return {
    model: Guard,

    /** Creates the guard document (every instance may; the first wins). */
    async init(): Promise<void> {
      try {
        await Guard.updateOne(
          { _id: GUARD_ID },
          { $setOnInsert: { changes: 0 } },
          { upsert: true },
        );
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    },

    /** Must be the transaction's first write: the changes that follow are serialised. */
    async take(now: Date): Promise<void> {
      await Guard.updateOne(
        { _id: GUARD_ID },
        { $inc: { changes: 1 }, $set: { changedAt: now } },
        { upsert: true },
      );
    },
  };
}

export type AdminGuardStore = ReturnType<typeof createAdminGuardStore>;
