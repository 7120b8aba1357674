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

/**
 * The kinds sent past the recipient's budget: receipts of money that moved (an order paid and
 * confirmed, a refund), which a customer must get. They have a higher cap of their own
 * (`receiptsMax`): with the deterministic gateway a payment costs nothing, so an order paid and
 * cancelled in a loop would otherwise mail an address without end. They count in the budget, so
 * a flood of them leaves none for the other kinds.
 */
export const BUDGET_EXEMPT_KINDS: readonly NotificationKind[] = [
  'order_confirmed',
  'payment_refunded',
];

export function isBudgetExempt(kind: NotificationKind): boolean {
  return BUDGET_EXEMPT_KINDS.includes(kind);
}

/**
 * Accounts are not e-mail verified, so an address is anyone's to register: each address gets at
 * most `max` mails within any `windowMs` (docs/adr/0059). Counted per address in PostgreSQL.
 */
export interface RecipientBudget {
  max: number;
  /** The receipts' own cap within the window (all kinds counted). */
  receiptsMax: number;
  windowMs: number;
}

/** What is known of the recipient when a notification is due. */
export type Recipient =
  | { state: 'unknown' }
  | { state: 'deleted' }
  | {
      state: 'known';
      email: string;
      optedOut: readonly NotificationKind[];
      /** A mail to the address fits its budget now (its slot is taken), or the kind is exempt. */
      withinBudget: boolean;
    };

/** Why a notification was not sent on purpose (its attempt's detail, SKIPPED). */
export type SkipReason = 'OPTED_OUT' | 'RECIPIENT_DELETED' | 'RECIPIENT_RATE_LIMITED';

export type Decision =
  | { action: 'send'; email: string }
  | { action: 'skip'; reason: SkipReason }
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
      if (recipient.optedOut.includes(kind)) return { action: 'skip', reason: 'OPTED_OUT' };
      // Over budget: recorded as not sent, never retried (a retry would only spend the budget
      // of the next window on mail the address never asked for).
      if (!recipient.withinBudget) return { action: 'skip', reason: 'RECIPIENT_RATE_LIMITED' };
      return { action: 'send', email: recipient.email };
  }
}

/**
 * Why an SMTP attempt failed, as it is recorded and shown to the customer: a stable code and a
 * generic message, never the mail server's own words (a relay's reply can name its internal
 * hosts; the service's log keeps them). A permanent one ends the notification FAILED at once:
 * another attempt would get the same answer.
 */
export const SEND_FAILURES = {
  /** A 5xx reply to RCPT TO: the server will not take mail for this address. */
  RECIPIENT_REFUSED: { permanent: true, message: 'the mail server refused the address' },
  /** A 5xx reply to DATA or to the message: its content or size will not be taken. */
  MESSAGE_REFUSED: { permanent: true, message: 'the mail server refused the message' },
  /**
   * A reply that may change: 4xx, 503, or a 5xx about the service's own session (greeting,
   * AUTH, MAIL FROM), which a fix of its configuration cures for every mail waiting.
   */
  MAIL_SERVER_UNAVAILABLE: {
    permanent: false,
    message: 'the mail server could not take the message',
  },
  /** No reply: the connection was refused or lost, or timed out. */
  MAIL_SERVER_UNREACHABLE: { permanent: false, message: 'the mail server could not be reached' },
  /** Anything else, and the attempts recorded before these codes (migration 002). */
  SEND_FAILED: { permanent: false, message: 'the mail could not be sent' },
} as const;

export type SendFailure = keyof typeof SEND_FAILURES;

/** What an attempt's detail and the notification's lastError say: `CODE: generic message`. */
export function sendFailureText(failure: SendFailure): string {
  return `${failure}: ${SEND_FAILURES[failure].message}`;
}
