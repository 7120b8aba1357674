import { Schema, trusted, type Connection } from 'mongoose';
import { withMongoTransaction } from '@ecom/common/mongo';
import type { RefreshTokenRecord } from '../domain/refresh-token';
import { collectionModel } from './connection';

interface RefreshTokenDoc {
  /** SHA-256 of the token (hex); the token itself is never stored. */
  _id: string;
  userId: string;
  familyId: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date | null;
  replacedBy?: string | null;
  revokedAt?: Date | null;
  revokedReason?: string | null;
}

export type RevokeReason =
  | 'logout'
  | 'reuse'
  | 'password_change'
  | 'role_change'
  | 'user_deleted'
  | 'logout_all'
  /** The session was found on the revoked-session list (a revocation still under way). */
  | 'session_ended';

/** A token about to be stored: the one a rotation hands out. */
export interface NewRefreshToken {
  tokenHash: string;
  userId: string;
  familyId: string;
  createdAt: Date;
  expiresAt: Date;
}

const refreshTokenSchema = new Schema<RefreshTokenDoc>(
  {
    _id: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    familyId: { type: String, required: true, index: true },
    createdAt: { type: Date, required: true },
    // Expired tokens are useless (also for reuse detection): MongoDB's TTL monitor drops them.
    expiresAt: { type: Date, required: true, index: { expireAfterSeconds: 0 } },
    usedAt: { type: Date, default: null },
    replacedBy: { type: String, default: null },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String, default: null },
  },
  { collection: 'refresh_tokens', versionKey: false, strict: 'throw' },
);

/*
 * Rotation and revocation are transactions that both write the family's current token (the
 * rotation spends it, a revocation marks it): MongoDB lets only one of two such transactions
 * commit at a time, so either the rotation commits first and the revocation, retried, sees and
 * revokes the new token, or the revocation commits first and the rotation's claim fails. Never
 * a new token that outlives its family's revocation, whatever the interleaving.
 */
export function createRefreshTokenStore(connection: Connection) {
  const collection = collectionModel(connection, 'RefreshToken', refreshTokenSchema);
  const Tokens = collection.model;
  const inTransaction = <T>(fn: () => Promise<T>) => withMongoTransaction(connection, fn);

  async function insert(record: NewRefreshToken): Promise<void> {
    await Tokens.create({
      _id: record.tokenHash,
      userId: record.userId,
      familyId: record.familyId,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
    });
  }

  return {
    ...collection,

    /** The first token of a new family (login, registration, password change). */
    insert,

    async find(tokenHash: string): Promise<RefreshTokenRecord | null> {
      return Tokens.findById(tokenHash).lean<RefreshTokenDoc>();
    },

    /**
     * Spends the token and stores its successor, in one transaction; false (nothing stored)
     * when the token is no longer usable: used, revoked, expired or gone. Of two concurrent
     * rotations of one token exactly one wins, and none wins against a revocation of its family.
     */
    async rotate(tokenHash: string, now: Date, next: NewRefreshToken): Promise<boolean> {
      return inTransaction(async () => {
        const claimed = await Tokens.updateOne(
          { _id: tokenHash, usedAt: null, revokedAt: null, expiresAt: trusted({ $gt: now }) },
          { $set: { usedAt: now, replacedBy: next.tokenHash } },
        );
        if (claimed.modifiedCount !== 1) return false;
        await insert(next);
        return true;
      });
    },

    async revokeFamily(familyId: string, now: Date, reason: RevokeReason): Promise<number> {
      return inTransaction(async () => {
        const result = await Tokens.updateMany(
          { familyId, revokedAt: null },
          { $set: { revokedAt: now, revokedReason: reason } },
        );
        return result.modifiedCount;
      });
    },

    /** Joins the caller's transaction when there is one (a role change). */
    async revokeAllForUser(userId: string, now: Date, reason: RevokeReason): Promise<number> {
      return inTransaction(async () => {
        const result = await Tokens.updateMany(
          { userId, revokedAt: null },
          { $set: { revokedAt: now, revokedReason: reason } },
        );
        return result.modifiedCount;
      });
    },

    /** The sessions (families) of a user with a token issued since `since`: access tokens may live. */
    async familiesIssuedSince(userId: string, since: Date): Promise<string[]> {
      const ids: unknown[] = await Tokens.distinct('familyId', {
        userId,
        createdAt: trusted({ $gte: since }),
      });
      return ids.map(String);
    },

    async deleteAllForUser(userId: string): Promise<void> {
      await inTransaction(async () => {
        await Tokens.deleteMany({ userId });
      });
    },
  };
}

export type RefreshTokenStore = ReturnType<typeof createRefreshTokenStore>;
