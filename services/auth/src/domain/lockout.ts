/**
 * Account lockout after repeated failed logins. Pure decisions over a small state record;
 * the store applies them atomically (per email, in MongoDB, so every instance sees them).
 */
export interface LockoutPolicy {
  /** Consecutive failures that lock the account. */
  maxFailures: number;
  lockoutMs: number;
  /** Failures older than this no longer count. */
  failureWindowMs: number;
}

export interface LoginAttemptState {
  failures: number;
  lastFailureAt?: Date | null;
  lockedUntil?: Date | null;
}

export type LockCheck = { locked: false } | { locked: true; retryAfterSeconds: number };

export function checkLock(state: LoginAttemptState | null | undefined, now: Date): LockCheck {
  const until = state?.lockedUntil;
  if (!until || until.getTime() <= now.getTime()) return { locked: false };
  return { locked: true, retryAfterSeconds: retryAfterSeconds(until, now) };
}

/** Whole seconds until `until`, at least 1 (a Retry-After of 0 invites a hot loop). */
export function retryAfterSeconds(until: Date, now: Date): number {
  return Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
}

/** True when the recorded failures are too old to count (the counter starts over). */
export function isStale(state: LoginAttemptState, now: Date, policy: LockoutPolicy): boolean {
  if (checkLock(state, now).locked) return false;
  const last = state.lastFailureAt;
  return !last || now.getTime() - last.getTime() > policy.failureWindowMs;
}

/** After a failure brought the count to `failures`: lock until when, if at all. */
export function lockAfterFailure(
  failures: number,
  now: Date,
  policy: LockoutPolicy,
): Date | undefined {
  return failures >= policy.maxFailures ? new Date(now.getTime() + policy.lockoutMs) : undefined;
}
