/**
 * Login throttling (docs/adr/0016): growing delays for one client address after repeated
 * failures for one account, never a lock of the account. Pure decisions over small counter
 * records; the store applies them atomically (in MongoDB, so every instance sees them).
 */
export interface ThrottlePolicy {
  /** Failures one address may make for one account; the one that reaches it starts the delays. */
  maxFailures: number;
  /**
   * Failures for one account from every address together: once reached, each address is
   * delayed from its first failure (a distributed attack is slowed; nobody is refused a try).
   */
  accountMaxFailures: number;
  /** The first delay; each further failure doubles it... */
  baseDelayMs: number;
  /** ...up to this. */
  maxDelayMs: number;
  /** Failures are forgotten once this long has passed since the last one, or its delay's end. */
  failureWindowMs: number;
}

/** A failure counter: of one (account, address) pair, of one account, or of a password change. */
export interface AttemptCounter {
  failures: number;
  lastFailureAt: Date | null;
  /** No attempt is evaluated before this. */
  delayedUntil: Date | null;
  /** When the failures are forgotten (a TTL index removes the record some time after). */
  expiresAt: Date;
}

/** Whole seconds until `until`, at least 1 (a Retry-After of 0 invites a hot loop). */
export function retryAfterSeconds(until: Date, now: Date): number {
  return Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
}

/** The failures that still count (none once the record is forgotten). */
export function liveFailures(counter: AttemptCounter | null | undefined, now: Date): number {
  if (!counter || counter.expiresAt.getTime() <= now.getTime()) return 0;
  return counter.failures;
}

/**
 * How many failures an address may make for the account before it waits: `maxFailures`, or
 * 1 while the account as a whole has had `accountMaxFailures` (it is being guessed at from
 * many places).
 */
export function failureAllowance(accountFailures: number, policy: ThrottlePolicy): number {
  return accountFailures >= policy.accountMaxFailures ? 1 : policy.maxFailures;
}

/** The wait after failure number `failures` with this allowance: 0, then base, 2×base, … max. */
export function delayAfter(failures: number, allowance: number, policy: ThrottlePolicy): number {
  if (failures < allowance) return 0;
  const doublings = Math.min(failures - allowance, 40);
  return Math.min(policy.baseDelayMs * 2 ** doublings, policy.maxDelayMs);
}

export type Admission =
  | {
      admitted: true;
      /** The counter to store before the password is checked: this attempt counted as failed. */
      next: AttemptCounter;
      /** Set when this attempt, if it fails, starts a delay (it then answers 429 itself). */
      delayedUntil: Date | null;
    }
  | { admitted: false; retryAfterSeconds: number };

/**
 * Whether an attempt may be evaluated now. An admitted attempt is counted as a failure (and
 * the delay it would start is set) before the password is checked, so attempts arriving
 * together cannot all slip in before the first failure is recorded; a success then removes
 * the counter. A refused attempt changes nothing: waiting is enough.
 */
export function admitAttempt(
  counter: AttemptCounter | null | undefined,
  now: Date,
  allowance: number,
  policy: ThrottlePolicy,
): Admission {
  const live = liveFailures(counter, now) > 0 ? counter : null;
  const waitUntil = live?.delayedUntil;
  if (waitUntil && waitUntil.getTime() > now.getTime()) {
    return { admitted: false, retryAfterSeconds: retryAfterSeconds(waitUntil, now) };
  }
  const failures = (live?.failures ?? 0) + 1;
  const delay = delayAfter(failures, allowance, policy);
  const delayedUntil = delay > 0 ? new Date(now.getTime() + delay) : null;
  const quietFrom = delayedUntil ?? now;
  return {
    admitted: true,
    delayedUntil,
    next: {
      failures,
      lastFailureAt: now,
      delayedUntil,
      expiresAt: new Date(quietFrom.getTime() + policy.failureWindowMs),
    },
  };
}
