import { RateLimitedError, ValidationError } from '@ecom/common/errors';
import { checkLock, isStale, lockAfterFailure, retryAfterSeconds } from '../domain/lockout';
import {
  isVerifiablePassword,
  passwordPolicyViolations,
  type PasswordContext,
} from '../domain/password-policy';
import type { StoredUser } from '../store/user-store';
import { isBreachedPassword } from './breached-passwords';
import type { AccountDeps } from './deps';

/** The rules a new password breaks (policy and breach list); empty when it is acceptable. */
export function newPasswordProblems(password: string, context: PasswordContext = {}): string[] {
  return passwordPolicyViolations(password, context, isBreachedPassword);
}

export function policyError(field: string, problems: string[]): ValidationError {
  return new ValidationError(
    `Password does not meet the policy: ${problems.join('; ')}`,
    problems.map((message) => ({ location: 'body', field, message })),
  );
}

function lockedError(seconds: number): RateLimitedError {
  return new RateLimitedError(
    seconds,
    'Too many failed login attempts: the account is temporarily locked',
    { reason: 'account_locked', retryAfterSeconds: seconds },
  );
}

/**
 * Password checks with login throttling, shared by login and password change: failures are
 * counted per normalised email (in MongoDB, so every instance sees them) and lock the account.
 */
export function createLoginGuard(deps: AccountDeps) {
  const { hasher, lockout, logger } = deps;
  const { loginAttempts } = deps.stores;

  return {
    /** Refuses at once while the email is locked; stale failures start over. */
    async assertNotLocked(email: string, at: Date): Promise<void> {
      const state = await loginAttempts.get(email);
      if (!state) return;
      if (isStale(state, at, lockout)) {
        await loginAttempts.resetIfUnchanged(email, state);
        return;
      }
      const lock = checkLock(state, at);
      if (lock.locked) throw lockedError(lock.retryAfterSeconds);
    },

    /** Counts a failure; the one that reaches the threshold locks and answers 429 itself. */
    async recordFailure(email: string, at: Date): Promise<RateLimitedError | undefined> {
      const keep = new Date(at.getTime() + Math.max(lockout.failureWindowMs, lockout.lockoutMs));
      const failures = await loginAttempts.recordFailure(email, at, keep);
      const until = lockAfterFailure(failures, at, lockout);
      if (!until) return undefined;
      await loginAttempts.lock(email, until, new Date(until.getTime() + lockout.failureWindowMs));
      logger.warn('account locked after repeated login failures', { failures });
      return lockedError(retryAfterSeconds(until, at));
    },

    /**
     * bcrypt always runs once: against the user's hash, or against a dummy hash of the same
     * cost when there is no such user, so both failures look and last the same.
     */
    async passwordMatches(user: StoredUser | null, password: string): Promise<boolean> {
      const matches = await hasher.compare(password, user?.passwordHash ?? hasher.dummyHash);
      return matches && user !== null && isVerifiablePassword(password);
    },

    clear: (email: string) => loginAttempts.clear(email),
  };
}

export type LoginGuard = ReturnType<typeof createLoginGuard>;
