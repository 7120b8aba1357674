import { Schema, type Connection } from 'mongoose';
import type { LoginAttemptState } from '../domain/lockout';
import { collectionModel } from './connection';

/**
 * Failed-login counters keyed by normalised email, whether or not such a user exists:
 * unknown addresses lock exactly like real ones, so lockout reveals nothing.
 */
interface LoginAttemptDoc {
  _id: string;
  failures: number;
  lastFailureAt: Date | null;
  lockedUntil: Date | null;
  /** TTL: counters of addresses nobody tries any more disappear on their own. */
  expiresAt: Date;
}

const loginAttemptSchema = new Schema<LoginAttemptDoc>(
  {
    _id: { type: String, required: true },
    failures: { type: Number, required: true, default: 0 },
    lastFailureAt: { type: Date, default: null },
    lockedUntil: { type: Date, default: null },
    expiresAt: { type: Date, required: true, index: { expireAfterSeconds: 0 } },
  },
  { collection: 'login_attempts', versionKey: false, strict: 'throw' },
);

export function createLoginAttemptStore(connection: Connection) {
  const collection = collectionModel(connection, 'LoginAttempt', loginAttemptSchema);
  const Attempts = collection.model;

  return {
    ...collection,

    async get(email: string): Promise<LoginAttemptState | null> {
      return Attempts.findById(email).lean<LoginAttemptDoc>();
    },

    /** Starts the count over, but only if nobody recorded a failure since we looked. */
    async resetIfUnchanged(email: string, seen: LoginAttemptState): Promise<void> {
      await Attempts.deleteOne({
        _id: email,
        failures: seen.failures,
        lastFailureAt: seen.lastFailureAt ?? null,
      });
    },

    /** Atomically counts one failure; returns the new count. */
    async recordFailure(email: string, now: Date, keepUntil: Date): Promise<number> {
      const doc = await Attempts.findOneAndUpdate(
        { _id: email },
        {
          $inc: { failures: 1 },
          $set: { lastFailureAt: now, expiresAt: keepUntil },
          $setOnInsert: { lockedUntil: null },
        },
        { upsert: true, returnDocument: 'after' },
      ).lean<LoginAttemptDoc>();
      return doc?.failures ?? 1;
    },

    /** Locks the account and starts a fresh count for after the lock. */
    async lock(email: string, until: Date, keepUntil: Date): Promise<void> {
      await Attempts.updateOne(
        { _id: email },
        { $set: { lockedUntil: until, failures: 0, expiresAt: keepUntil } },
      );
    },

    async clear(email: string): Promise<void> {
      await Attempts.deleteOne({ _id: email });
    },
  };
}

export type LoginAttemptStore = ReturnType<typeof createLoginAttemptStore>;
