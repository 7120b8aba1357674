import type { PaymentAttemptSource } from '@ecom/common/events';

/**
 * Payment rules, pure (no I/O): what a payment does next given what it knows about its
 * order, the mock gateway's test tokens, refund limits and idempotency keys.
 */
export const PAYMENT_STATUSES = [
  'PENDING', // order known or reserved, not both yet
  'AWAITING_PAYMENT', // reserved, no usable payment details: the customer pays via /initiate
  'PROCESSING', // an attempt is claimed and the gateway call is in flight
  'COMPLETED',
  'FAILED', // details given with the order were declined: final
  'CANCELLED', // the order was rejected, failed or cancelled before any charge
  'PARTIALLY_REFUNDED',
  'REFUNDED',
] as const;

export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/**
 * Why an order can no longer be charged: cancelled, its stock rejected, or failed (order gave
 * up waiting, or payment told it there was no charge).
 */
export type OrderClosed = 'CANCELLED' | 'REJECTED' | 'FAILED';

export interface PaymentFacts {
  status: PaymentStatus;
  /** order.created seen (amount, currency, user, details known). */
  orderKnown: boolean;
  /** inventory.reserved seen. */
  reserved: boolean;
  closed: OrderClosed | null;
  hasDetails: boolean;
  amountCents: number;
  refundedCents: number;
}

export type NextAction = 'charge' | 'await' | 'cancel' | 'refund' | 'none';

/**
 * The decision after any fact changed. Reserve first, then charge (never the other way);
 * an order closed before its charge is never charged; a charged order that gets cancelled
 * is refunded what is left.
 */
export function nextAction(p: PaymentFacts): NextAction {
  switch (p.status) {
    case 'PENDING':
      if (p.closed) return 'cancel';
      if (p.orderKnown && p.reserved) return p.hasDetails ? 'charge' : 'await';
      return 'none';
    case 'AWAITING_PAYMENT':
      return p.closed ? 'cancel' : 'none';
    case 'COMPLETED':
    case 'PARTIALLY_REFUNDED':
      // A charge for an order that will not be fulfilled goes back (a stock rejection comes
      // before any charge, so REJECTED never meets a completed one).
      return p.closed !== null && p.closed !== 'REJECTED' && p.refundedCents < p.amountCents
        ? 'refund'
        : 'none';
    default:
      // PROCESSING decides again when its result is recorded; the rest are final.
      return 'none';
  }
}

/** One key per attempt: a redelivered event reuses it, a new customer attempt gets a new one. */
export function chargeIdempotencyKey(orderId: string, attempt: number): string {
  return `${orderId}:${attempt}`;
}

export function refundIdempotencyKey(paymentId: string, refundNo: number): string {
  return `${paymentId}:refund:${refundNo}`;
}

export type RefundCheck =
  { ok: true; amount: number } | { ok: false; code: string; reason: string };

/** Partial refunds sum to at most the amount paid; no amount means "what is left". */
export function checkRefund(
  status: PaymentStatus,
  amountCents: number,
  refundedCents: number,
  requested?: number,
): RefundCheck {
  if (status !== 'COMPLETED' && status !== 'PARTIALLY_REFUNDED') {
    return { ok: false, code: 'NOT_REFUNDABLE', reason: `A ${status} payment cannot be refunded` };
  }
  const left = amountCents - refundedCents;
  const amount = requested ?? left;
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    return { ok: false, code: 'NOTHING_TO_REFUND', reason: 'Nothing left to refund' };
  }
  if (amount > left) {
    return {
      ok: false,
      code: 'REFUND_EXCEEDS_AMOUNT',
      reason: `Refund of ${amount} exceeds the ${left} left of the ${amountCents} paid`,
    };
  }
  return { ok: true, amount };
}

export function statusAfterRefund(amountCents: number, refundedCents: number): PaymentStatus {
  return refundedCents >= amountCents ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
}

/**
 * A declined card given with the order fails the order at once; a decline on
 * POST /api/payments/initiate leaves the order waiting so the customer can try again.
 */
export function declineIsRetryable(source: PaymentAttemptSource): boolean {
  return source === 'initiate';
}

/**
 * Where a declined attempt leaves the payment: a decline of details given with the order is
 * final; one on /initiate waits for another card, unless the order closed meanwhile.
 */
export function statusAfterDecline(
  source: PaymentAttemptSource,
  closed: OrderClosed | null,
): PaymentStatus {
  if (!declineIsRetryable(source)) return 'FAILED';
  return closed ? 'CANCELLED' : 'AWAITING_PAYMENT';
}

/** What payment knows of an order when its owner asks to pay it. */
export interface PayableFacts {
  user_id: string | null;
  order_known: boolean;
  reserved: boolean;
  order_closed: OrderClosed | null;
}

/**
 * Whether POST /api/payments/initiate should wait for payment to catch up before it answers:
 * payment has not yet handled the order's creation or its reservation, which the order service
 * may already show (both learn of them from the same events, each at its own pace). Another
 * user's order never waits: its answer, 404, is already known.
 */
export function awaitsSagaEvents(facts: PayableFacts | null, userId: string): boolean {
  if (!facts) return true;
  if (facts.order_known && facts.user_id !== userId) return false;
  return !facts.order_known || (!facts.reserved && !facts.order_closed);
}

/** Why POST /api/payments/initiate refuses a payment that is not AWAITING_PAYMENT (409). */
export function notPayableReason(status: PaymentStatus): string {
  switch (status) {
    case 'PENDING':
      return 'The order is not reserved yet; try again shortly';
    case 'PROCESSING':
      return 'A payment for this order is already in progress';
    case 'COMPLETED':
    case 'PARTIALLY_REFUNDED':
    case 'REFUNDED':
      return 'This order is already paid';
    default:
      return `This order can no longer be paid (payment ${status})`;
  }
}

export type MockOutcome = { ok: true } | { ok: false; code: string; reason: string };

/** The mock gateway's test tokens (Stripe's names). Anything unknown is refused. */
export function mockChargeOutcome(token: string): MockOutcome {
  switch (token) {
    case 'tok_visa':
    case 'tok_mastercard':
      return { ok: true };
    case 'tok_chargeDeclined':
      return { ok: false, code: 'card_declined', reason: 'Your card was declined' };
    case 'tok_insufficientFunds':
      return { ok: false, code: 'insufficient_funds', reason: 'Your card has insufficient funds' };
    default:
      return { ok: false, code: 'invalid_token', reason: 'Unknown payment token' };
  }
}
