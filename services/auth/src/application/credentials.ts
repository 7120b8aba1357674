import { RateLimitedError, ValidationError } from '@ecom/common/errors';
import { addressKey } from '../domain/client-address';
import {
  admitAttempt,
  failureAllowance,
  liveFailures,
  retryAfterSeconds,
} from '../domain/login-throttle';
import {
  isVerifiablePassword,
  passwordPolicyViolations,
  type PasswordContext,
} from '../domain/password-policy';
import type { ThrottleKey } from '../store/login-attempt-store';
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

export type ThrottleReason = 'login_throttled' | 'password_change_throttled';

function throttledError(reason: ThrottleReason, seconds: number): RateLimitedError {
  return new RateLimitedError(
    seconds,
    reason === 'login_throttled'
      ? 'Too many failed login attempts: try again later'
      : 'Too many wrong current passwords: try again later',
    { reason, retryAfterSeconds: seconds },
  );
}

/** Reading and writing a counter again when another attempt changed it in between. */
const MAX_ADMISSION_TRIES = 10;

/** One attempt, admitted and counted as failed until `succeeded` says otherwise. */
export interface ThrottledAttempt {
  key: ThrottleKey;
  reason: ThrottleReason;
  /** Set when this attempt, if it fails, starts a delay. */
  delayedUntil: Date | null;
}

/**
 * Password checks with throttling (docs/adr/0016), shared by login and password change.
 * Login failures are counted per (normalised email, client address) and per email; an address
 * that keeps failing for an account waits growing delays for that account only, and nothing
 * locks an account: a right password from an address that is not waiting always signs in.
 * Counters live in MongoDB, so every instance sees them.
 */
export function createLoginGuard(deps: AccountDeps) {
  const { hasher, throttle: policy, logger } = deps;
  const { loginAttempts } = deps.stores;

  /**
   * Admits an attempt under `key` (429 while it waits), counting it as failed before the
   * password is checked: a compare-and-set, so of many attempts arriving together no more are
   * evaluated than the allowance lets through.
   */
  async function admit(
    key: ThrottleKey,
    reason: ThrottleReason,
    at: Date,
    allowance: number,
  ): Promise<ThrottledAttempt> {
    for (let i = 0; i < MAX_ADMISSION_TRIES; i += 1) {
      const seen = await loginAttempts.get(key);
      const admission = admitAttempt(seen, at, allowance, policy);
      if (!admission.admitted) throw throttledError(reason, admission.retryAfterSeconds);
      if (await loginAttempts.replaceIfUnchanged(key, seen, admission.next)) {
        return { key, reason, delayedUntil: admission.delayedUntil };
      }
    }
    // Only a burst from one address for one account contends this much: it waits a moment.
    throw throttledError(reason, 1);
  }

  return {
    /**
     * Before a login's password is checked: refuses with 429 while this address waits for
     * this account. The address's allowance shrinks to one failure while the account as a
     * whole has had many (a distributed attack); an address without failures is never refused.
     */
    async beginLogin(email: string, ip: string | undefined, at: Date): Promise<ThrottledAttempt> {
      const account = await loginAttempts.get({ scope: 'account', account: email });
      const allowance = failureAllowance(liveFailures(account, at), policy);
      return admit(
        { scope: 'address', account: email, address: addressKey(ip) },
        'login_throttled',
        at,
        allowance,
      );
    },

    /**
     * Before a password change checks the current password. The caller is authenticated, so
     * one counter per user; it has no effect on logins.
     */
    beginPasswordChange(userId: string, at: Date): Promise<ThrottledAttempt> {
      return admit(
        { scope: 'password_change', account: userId },
        'password_change_throttled',
        at,
        policy.maxFailures,
      );
    },

    /** The password was wrong: the 429 to answer when this failure started a delay. */
    async failed(attempt: ThrottledAttempt, at: Date): Promise<RateLimitedError | undefined> {
      if (attempt.key.scope === 'address') {
        const key: ThrottleKey = { scope: 'account', account: attempt.key.account };
        const failures = await loginAttempts.recordFailure(key, at, policy.failureWindowMs);
        if (failures === policy.accountMaxFailures) {
          logger.warn('repeated login failures for one account from several addresses', {
            failures,
          });
        }
      }
      if (!attempt.delayedUntil) return undefined;
      const seconds = retryAfterSeconds(attempt.delayedUntil, at);
      logger.warn('client delayed after repeated password failures', {
        scope: attempt.key.scope,
        delaySeconds: seconds,
      });
      return throttledError(attempt.reason, seconds);
    },

    /** The password was right: this address (or this password change) starts over. */
    succeeded: (attempt: ThrottledAttempt) => loginAttempts.clear(attempt.key),

    /**
     * bcrypt always runs once: against the user's hash, or against a dummy hash of the same
     * cost when there is no such user, so both failures look and last the same.
     */
    async passwordMatches(user: StoredUser | null, password: string): Promise<boolean> {
      const matches = await hasher.compare(password, user?.passwordHash ?? hasher.dummyHash);
      return matches && user !== null && isVerifiablePassword(password);
    },
  };
}

export type LoginGuard = ReturnType<typeof createLoginGuard>;
