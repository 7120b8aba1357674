import { Schema, trusted, type Connection } from 'mongoose';
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

export type RevokeReason = 'logout' | 'reuse' | 'password_change' | 'user_deleted' | 'logout_all';

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

export function createRefreshTokenStore(connection: Connection) {
  const collection = collectionModel(connection, 'RefreshToken', refreshTokenSchema);
  const Tokens = collection.model;

  return {
    ...collection,

    async insert(record: {
      tokenHash: string;
      userId: string;
      familyId: string;
      createdAt: Date;
      expiresAt: Date;
    }): Promise<void> {
      await Tokens.create({
        _id: record.tokenHash,
        userId: record.userId,
        familyId: record.familyId,
        createdAt: record.createdAt,
        expiresAt: record.expiresAt,
      });
    },

    async find(tokenHash: string): Promise<RefreshTokenRecord | null> {
      return Tokens.findById(tokenHash).lean<RefreshTokenDoc>();
    },

    /**
     * Marks the token used if, and only if, nobody has used or revoked it yet: of two
     * concurrent refreshes with one token exactly one wins (the other is a reuse).
     */
    async claim(tokenHash: string, now: Date, replacedBy: string): Promise<boolean> {
      const result = await Tokens.updateOne(
        { _id: tokenHash, usedAt: null, revokedAt: null, expiresAt: trusted({ $gt: now }) },
        { $set: { usedAt: now, replacedBy } },
      );
      return result.modifiedCount === 1;
    },

    async revokeFamily(familyId: string, now: Date, reason: RevokeReason): Promise<number> {
      const result = await Tokens.updateMany(
        { familyId, revokedAt: null },
        { $set: { revokedAt: now, revokedReason: reason } },
      );
      return result.modifiedCount;
    },

    async revokeAllForUser(userId: string, now: Date, reason: RevokeReason): Promise<number> {
      const result = await Tokens.updateMany(
        { userId, revokedAt: null },
        { $set: { revokedAt: now, revokedReason: reason } },
      );
      return result.modifiedCount;
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
      await Tokens.deleteMany({ userId });
    },
  };
}

export type RefreshTokenStore = ReturnType<typeof createRefreshTokenStore>;
