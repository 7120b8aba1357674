import { Schema, type Connection } from 'mongoose';
import type { AttemptCounter } from '../domain/login-throttle';
import { collectionModel } from './connection';

/**
 * What a failure counter counts: failed logins of one client address for one account, failed
 * logins of one account from every address, or wrong current passwords of one user's password
 * changes. Login counters are keyed by the normalised email whether or not such a user exists,
 * so unknown emails are throttled exactly like real ones and throttling reveals nothing.
 */
export type ThrottleKey =
  | { scope: 'address'; account: string; address: string }
  | { scope: 'account'; account: string }
  | { scope: 'password_change'; account: string };

interface LoginAttemptDoc extends AttemptCounter {
  /** JSON of [scope, account, address?]: unambiguous whatever an email or address holds. */
  _id: string;
  scope: ThrottleKey['scope'];
  /** The normalised email (login), or the user id (password change). */
  account: string;
  address: string | null;
}

const loginAttemptSchema = new Schema<LoginAttemptDoc>(
  {
    _id: { type: String, required: true },
    scope: { type: String, required: true, enum: ['address', 'account', 'password_change'] },
    account: { type: String, required: true },
    address: { type: String, default: null },
    failures: { type: Number, required: true, default: 0 },
    lastFailureAt: { type: Date, default: null },
    delayedUntil: { type: Date, default: null },
    // TTL: counters nobody adds to any more disappear on their own (the domain treats them as
    // forgotten from this moment; the TTL monitor may remove them a little later).
    expiresAt: { type: Date, required: true, index: { expireAfterSeconds: 0 } },
  },
  // Records of the lockout this replaced (`_id` = email, `lockedUntil`) are never read again
  // and expire through the same TTL index.
  { collection: 'login_attempts', versionKey: false, strict: 'throw' },
);

export function throttleId(key: ThrottleKey): string {
  return JSON.stringify(
    key.scope === 'address' ? [key.scope, key.account, key.address] : [key.scope, key.account],
  );
}

function counterOf(doc: LoginAttemptDoc | null): AttemptCounter | null {
  if (!doc) return null;
  return {
    failures: doc.failures,
    lastFailureAt: doc.lastFailureAt ?? null,
    delayedUntil: doc.delayedUntil ?? null,
    expiresAt: doc.expiresAt,
  };
}

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

export function createLoginAttemptStore(connection: Connection) {
  const collection = collectionModel(connection, 'LoginAttempt', loginAttemptSchema);
  const Attempts = collection.model;

  return {
    ...collection,

    async get(key: ThrottleKey): Promise<AttemptCounter | null> {
      return counterOf(await Attempts.findById(throttleId(key)).lean<LoginAttemptDoc>());
    },

    /**
     * Compare-and-set: stores `next` only if the counter is still what the caller read
     * (`seen`, null: there was none). False when another attempt changed it first; the caller
     * reads again and decides again.
     */
    async replaceIfUnchanged(
      key: ThrottleKey,
      seen: AttemptCounter | null,
      next: AttemptCounter,
    ): Promise<boolean> {
      const _id = throttleId(key);
      if (!seen) {
        try {
          await Attempts.create({
            _id,
            scope: key.scope,
            account: key.account,
            address: key.scope === 'address' ? key.address : null,
            ...next,
          });
          return true;
        } catch (err) {
          if (isDuplicateKey(err)) return false;
          throw err;
        }
      }
      const result = await Attempts.updateOne(
        {
          _id,
          failures: seen.failures,
          lastFailureAt: seen.lastFailureAt,
          delayedUntil: seen.delayedUntil,
          expiresAt: seen.expiresAt,
        },
        { $set: { ...next } },
      );
      return result.matchedCount === 1;
    },

    /**
     * Atomically counts one failure (`$inc`, no read-modify-write, so failures arriving
     * together from many addresses are all counted) and returns the new count; a forgotten
     * count starts over.
     */
    async recordFailure(key: ThrottleKey, now: Date, windowMs: number): Promise<number> {
      const _id = throttleId(key);
      const seen = await Attempts.findById(_id).lean<LoginAttemptDoc>();
      if (seen && seen.expiresAt.getTime() <= now.getTime()) {
        // Only if nobody counted a failure since we looked (theirs made it current again).
        await Attempts.deleteOne({ _id, failures: seen.failures, expiresAt: seen.expiresAt });
      }
      const doc = await Attempts.findOneAndUpdate(
        { _id },
        {
          $inc: { failures: 1 },
          $max: { lastFailureAt: now, expiresAt: new Date(now.getTime() + windowMs) },
          $setOnInsert: {
            scope: key.scope,
            account: key.account,
            address: key.scope === 'address' ? key.address : null,
            delayedUntil: null,
          },
        },
        { upsert: true, returnDocument: 'after' },
      ).lean<LoginAttemptDoc>();
      return doc?.failures ?? 1;
    },

    async clear(key: ThrottleKey): Promise<void> {
      await Attempts.deleteOne({ _id: throttleId(key) });
    },
  };
}

export type LoginAttemptStore = ReturnType<typeof createLoginAttemptStore>;
