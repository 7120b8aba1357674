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

/**
 * What the customer must do for the charge in flight (3-D Secure at the provider): the current
 * attempt's next action while it waits for it, else null.
 */
function nextActionOf(row: PaymentRow, attempts: AttemptRow[]) {
  const current = attempts.find((a) => a.attempt === row.attempts);
  // A closed order's step is not offered: the reconciler cancels it at the provider.
  if (row.status !== 'PROCESSING' || current?.status !== 'PENDING' || row.order_closed) return null;
  if (current.provider_status !== 'requires_action' || !current.next_action_url) return null;
  return { type: 'redirect_to_url' as const, url: current.next_action_url };
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
    nextAction: nextActionOf(row, attempts),
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      source: a.source,
      status: a.status,
      failure: a.failure_code ? { code: a.failure_code, reason: a.failure_reason } : null,
      createdAt: a.created_at.toISOString(),
      completedAt: a.completed_at?.toISOString() ?? null,
      providerStatus: a.status === 'PENDING' ? a.provider_status : null,
    })),
    refunds: refunds.map(refundView),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export type PaymentView = ReturnType<typeof paymentView>;
export type RefundView = ReturnType<typeof refundView>;
