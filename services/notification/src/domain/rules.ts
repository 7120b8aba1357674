import type { NotificationKind } from './kinds';

/**
 * The sending rules, pure: when the next attempt is due, and what to do with a notification
 * that is due given what is known of its recipient.
 */

export interface RetryPolicy {
  /** Delay after the first failed attempt; doubled after each further one. */
  baseMs: number;
  /** The longest delay between two attempts. */
  maxMs: number;
  /** Attempts (SMTP failures) after which the notification is FAILED. */
  maxAttempts: number;
}

/** Exponential backoff: the delay before attempt `failed + 1`, after `failed` failures (>= 1). */
export function retryDelayMs(failed: number, policy: RetryPolicy): number {
  const exponent = Math.min(Math.max(failed - 1, 0), 30);
  return Math.min(policy.baseMs * 2 ** exponent, policy.maxMs);
}

/** What is known of the recipient when a notification is due. */
export type Recipient =
  | { state: 'unknown' }
  | { state: 'deleted' }
  | { state: 'known'; email: string; name: string; optedOut: readonly NotificationKind[] };

export type Decision =
  | { action: 'send'; email: string; name: string }
  | { action: 'skip'; reason: 'OPTED_OUT' | 'RECIPIENT_DELETED' }
  /** Not known yet (its user.created, or the order's owner, has not arrived): look again later. */
  | { action: 'wait' }
  | { action: 'give-up'; reason: 'RECIPIENT_UNKNOWN' };

/**
 * An event may arrive before the user.created of its customer (or, for an older event naming
 * no customer, before another event of the order that does): the notification waits for it, up
 * to `waitMs` after it was created, rather than being dropped.
 */
export function decide(
  kind: NotificationKind,
  recipient: Recipient,
  ageMs: number,
  waitMs: number,
): Decision {
  switch (recipient.state) {
    case 'deleted':
      return { action: 'skip', reason: 'RECIPIENT_DELETED' };
    case 'unknown':
      return ageMs >= waitMs
        ? { action: 'give-up', reason: 'RECIPIENT_UNKNOWN' }
        : { action: 'wait' };
    case 'known':
      return recipient.optedOut.includes(kind)
        ? { action: 'skip', reason: 'OPTED_OUT' }
        : { action: 'send', email: recipient.email, name: recipient.name };
  }
}
