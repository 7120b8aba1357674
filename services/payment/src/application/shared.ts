import type { PoolClient } from 'pg';
import {
  anchoredWrites,
  type AnchorPromise,
  type AnchorRecordRef,
  type AnchorSink,
  type PrefetchedAnchorReads,
} from '@ecom/common/anchoring';
import type { Money, PaymentAttemptSource } from '@ecom/common/events';
import type { AttemptRow, PaymentRow } from '../store/payment-store';

/**
 * What the payment use cases share. Money moves in three steps so the gateway is called at
 * most once per idempotency key: (1) claim the attempt or refund in a transaction (row
 * locked, state guarded, payment.initiated in the outbox: claims.ts), (2) call the gateway
 * outside any transaction, (3) record the result in a transaction guarded by "still PENDING"
 * (events and anchored entries with it: gateway-calls.ts).
 */

/** A charge claimed in the database, to be sent to the gateway after the claim commits. */
export interface ChargeClaim {
  kind: 'charge';
  paymentId: string;
  orderId: string;
  attempt: number;
  idempotencyKey: string;
  amount: number;
  currency: string;
  method: string;
  token: string;
  source: PaymentAttemptSource;
}

/** A refund claimed in the database (its amount already reserved), to be sent to the gateway. */
export interface RefundClaim {
  kind: 'refund';
  refundId: string;
  paymentId: string;
  orderId: string;
  chargeId: string;
  idempotencyKey: string;
  amount: number;
  currency: string;
}

/** What a transaction claimed and must run once it has committed. */
export type FollowUp = ChargeClaim | RefundClaim;

/** bigint columns arrive as strings; amounts are integer minor units. */
export const cents = (v: string | null): number => (v === null ? 0 : Number(v));

/** A payment learns its currency from order.created; before that it has none. */
export const currencyOf = (row: PaymentRow): string => (row.currency ?? 'USD').trim();

export const amountOf = (row: PaymentRow): Money => ({
  amount: cents(row.amount_cents),
  currency: currencyOf(row),
});

/** The claim of a stored attempt (the reconciler's retry, a webhook's settlement). */
export function chargeClaimOf(row: PaymentRow, a: AttemptRow): ChargeClaim {
  return {
    kind: 'charge',
    paymentId: row.id,
    orderId: row.order_id,
    attempt: a.attempt,
    idempotencyKey: a.idempotency_key,
    amount: cents(row.amount_cents),
    currency: currencyOf(row),
    method: a.method,
    token: a.token ?? '',
    source: a.source,
  };
}

/** The anchoring reference of a payment. */
export const paymentRef = (paymentId: string): AnchorRecordRef => ({
  recordType: 'payment',
  recordId: paymentId,
});

/**
 * A sender for the writes of a payment in the caller's transaction: each goes with the
 * payment's anchoring lock and reads, which `reads()` hands to anchorPayment (used only if the
 * write was the last statement sent).
 */
export const paymentWrites = (anchor: AnchorSink, client: PoolClient, paymentId: string) =>
  anchoredWrites(anchor, client, paymentRef(paymentId));

/**
 * Writes the payment's anchored entries for what the caller's transaction changed (call it last
 * in every transaction that writes a payment, its attempts or refunds); the newest entry's
 * signed promise, null when nothing changed or anchoring is off. `prefetched`: the reads of
 * a paymentWrites write, so the anchoring needs no round trip of its own.
 */
export async function anchorPayment(
  anchor: AnchorSink,
  client: PoolClient,
  paymentId: string,
  prefetched?: PrefetchedAnchorReads | null,
): Promise<AnchorPromise | null> {
  const promises = await anchor.record(client, paymentRef(paymentId), prefetched);
  return promises[promises.length - 1] ?? null;
}
