import type { AnchorQueryable, RecordSnapshot } from '@ecom/common/anchoring';
import type { AttemptRow, PaymentRow, RefundRow } from './payment-store';

const cents = (v: string | null): number | null => (v === null ? null : Number(v));
const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/**
 * A payment as its anchored entries describe it (docs/verification.md §1, "payment"): every
 * business field of the payment, and each attempt and refund as a row holding a change, so a
 * decline, a refund or a refunded amount is anchored like a completion. Left out: the card
 * token (a secret, erased once used), the gateway idempotency keys, correlation_id and
 * updated_at (bookkeeping). The same function feeds writing entries and verifying them.
 */
export async function paymentSnapshot(
  db: AnchorQueryable,
  paymentId: string,
): Promise<RecordSnapshot | null> {
  const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [paymentId]);
  const p = rows[0];
  if (!p) return null;
  // One query after another: `db` may be one client, inside the caller's transaction.
  const attempts = await db.query<AttemptRow>(
    'SELECT * FROM payment_attempts WHERE payment_id = $1 ORDER BY attempt',
    [p.id],
  );
  const refunds = await db.query<RefundRow>(
    'SELECT * FROM refunds WHERE payment_id = $1 ORDER BY created_at, id',
    [p.id],
  );
  const state = {
    paymentId: p.id,
    orderId: p.order_id,
    userId: p.user_id,
    status: p.status,
    amount: cents(p.amount_cents),
    currency: p.currency?.trim() ?? null,
    refunded: cents(p.refunded_cents),
    method: p.method,
    attempts: p.attempts,
    chargeId: p.charge_id,
    failureCode: p.failure_code,
    failureReason: p.failure_reason,
    orderKnown: p.order_known,
    reserved: p.reserved,
    orderClosed: p.order_closed,
    createdAt: p.created_at.toISOString(),
  };
  const changes: Record<string, unknown> = {};
  for (const a of attempts.rows) {
    changes[`attempt:${a.attempt}`] = {
      kind: 'attempt',
      attempt: a.attempt,
      source: a.source,
      method: a.method,
      status: a.status,
      chargeId: a.charge_id,
      failureCode: a.failure_code,
      failureReason: a.failure_reason,
      createdAt: iso(a.created_at),
      completedAt: iso(a.completed_at),
    };
  }
  for (const r of refunds.rows) {
    changes[`refund:${r.id}`] = {
      kind: 'refund',
      refundId: r.id,
      amount: cents(r.amount_cents),
      currency: r.currency.trim(),
      reason: r.reason,
      cause: r.cause,
      status: r.status,
      gatewayRefundId: r.gateway_refund_id,
      failureReason: r.failure_reason,
      requestedBy: r.requested_by,
      createdAt: iso(r.created_at),
      completedAt: iso(r.completed_at),
    };
  }
  return { state, rows: changes };
}
