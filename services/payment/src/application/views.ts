import type { Money } from '@ecom/common/events';
import type { AttemptRow, PaymentRow, RefundRow } from '../store/payment-store';
import { amountOf, cents, currencyOf } from './shared';

/** A refund as the API shows it. */
export function refundView(r: RefundRow) {
  return {
    id: r.id,
    amount: { amount: cents(r.amount_cents), currency: r.currency.trim() } satisfies Money,
    status: r.status,
    reason: r.reason,
    cause: r.cause,
    createdAt: r.created_at.toISOString(),
    completedAt: r.completed_at?.toISOString() ?? null,
  };
}

/** A payment as the API shows it: its attempts and refunds, never the gateway token. */
export function paymentView(row: PaymentRow, attempts: AttemptRow[], refunds: RefundRow[]) {
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    status: row.status,
    amount: amountOf(row),
    refunded: {
      amount: refunds
        .filter((r) => r.status === 'SUCCEEDED')
        .reduce((sum, r) => sum + cents(r.amount_cents), 0),
      currency: currencyOf(row),
    } satisfies Money,
    method: row.method,
    chargeId: row.charge_id,
    failure: row.failure_code ? { code: row.failure_code, reason: row.failure_reason } : null,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      source: a.source,
      status: a.status,
      failure: a.failure_code ? { code: a.failure_code, reason: a.failure_reason } : null,
      createdAt: a.created_at.toISOString(),
      completedAt: a.completed_at?.toISOString() ?? null,
    })),
    refunds: refunds.map(refundView),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export type PaymentView = ReturnType<typeof paymentView>;
export type RefundView = ReturnType<typeof refundView>;
