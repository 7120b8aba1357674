/**
 * What the notification service tells a customer about, one kind per event they care about.
 * A kind is what a customer opts out of (preferences) and what selects the template.
 */
export const NOTIFICATION_KINDS = [
  'order_confirmed',
  'order_failed',
  'order_cancelled',
  'order_shipped',
  'order_delivered',
  'payment_refunded',
] as const;

export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/**
 * PENDING: due at next_attempt_at (waiting for SMTP, or for the recipient to be known);
 * SENT: the SMTP server accepted it; SKIPPED: never sent on purpose (opted out, account
 * deleted); FAILED: given up (the last attempt, a permanent refusal, or no recipient in time).
 */
export const NOTIFICATION_STATUSES = ['PENDING', 'SENT', 'SKIPPED', 'FAILED'] as const;

export type NotificationStatus = (typeof NOTIFICATION_STATUSES)[number];

/** What one delivery attempt came to (the record a customer lists). */
export const ATTEMPT_OUTCOMES = ['SENT', 'FAILED', 'SKIPPED'] as const;

export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

export function isNotificationKind(value: string): value is NotificationKind {
  return (NOTIFICATION_KINDS as readonly string[]).includes(value);
}

/** What the templates read: the facts of the event, as stored with the notification. */
export interface NotificationFacts {
  orderId: string;
  /** Integer minor units and currency, when the event carries an amount. */
  amount?: { amount: number; currency: string };
  reason?: string;
  /** Lines in the event (shipped now, or of the order). */
  lineCount?: number;
  fullyShipped?: boolean;
  fullyRefunded?: boolean;
}
