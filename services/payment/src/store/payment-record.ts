import {
  asFields,
  readSnapshot,
  type AnchorQueryable,
  type ChangeRules,
  type RecordTypeConfig,
} from '@ecom/common/anchoring';
import { jsonTimestamp } from '@ecom/common/postgres';
import type { AttemptRow, PaymentRow, RefundRow } from './payment-store';

const cents = (v: string | null): number | null => (v === null ? null : Number(v));
/** A timestamp read through JSON, as toISOString of the Date pg would have given. */
const isoJson = (value: string | null): string | null =>
  jsonTimestamp(value)?.toISOString() ?? null;

/** The statement's row: the payment's columns, its attempts and refunds through JSON. */
type PaymentSnapshotRow = PaymentRow & {
  attempt_rows: Array<
    Pick<
      AttemptRow,
      'attempt' | 'source' | 'method' | 'status' | 'charge_id' | 'failure_code' | 'failure_reason'
    > & { created_at: string; completed_at: string | null }
  >;
  refund_rows: Array<
    Pick<
      RefundRow,
      | 'id'
      | 'amount_cents'
      | 'currency'
      | 'reason'
      | 'cause'
      | 'status'
      | 'gateway_refund_id'
      | 'failure_reason'
      | 'requested_by'
    > & { created_at: string; completed_at: string | null }
  >;
};

/** A fact learnt once: unknown (null) before, known after. */
const learnt = (before: unknown): boolean => before === null;
/** A flag that only ever turns on. */
const turnedOn = (before: unknown, after: unknown): boolean => before === false && after === true;
/**
 * The refunded total moved by exactly the refund's amount: up when it is claimed (PENDING), back
 * down when the gateway refuses it (FAILED). An amount edited by hand shows on its own.
 */
const refundMoved = (before: unknown, after: unknown, change: unknown): boolean => {
  const { status, amount } = asFields(change);
  const moved = Number(after) - Number(before);
  return (
    (status === 'PENDING' && moved === Number(amount)) ||
    (status === 'FAILED' && moved === -Number(amount))
  );
};
/** An order's end that the refund it caused names (`order.cancelled`, `order.failed`). */
const closedByRefund = (before: unknown, after: unknown, change: unknown): boolean =>
  before === null && after !== null && asFields(change).cause !== 'admin';

/**
 * What payment changes with each row it writes (docs/verification.md §1, ADR 0058). A charge
 * goes with what the event that started it told (the order's amount, owner and currency learnt,
 * the stock held); a refund the order's end caused goes with that end. Anything else a write
 * changes (an amount already known) gets a `state` entry of its own.
 */
export const paymentChangeRules: ChangeRules = {
  attempt: {
    status: true,
    attempts: true,
    method: true,
    chargeId: true,
    failureCode: true,
    failureReason: true,
    amount: learnt,
    currency: learnt,
    userId: learnt,
    orderKnown: turnedOn,
    reserved: turnedOn,
  },
  refund: { status: true, refunded: refundMoved, orderClosed: closedByRefund },
};

/**
 * A payment as its anchored entries describe it (docs/verification.md §1, "payment"): every
 * business field of the payment, and each attempt and refund as a row holding a change, so a
 * decline, a refund or a refunded amount is anchored like a completion. Left out: the card
 * token (a secret, erased once used), the gateway idempotency keys, correlation_id and
 * updated_at (bookkeeping). The same statement feeds writing entries and verifying them.
 */
export const paymentRecord: RecordTypeConfig = {
  changes: paymentChangeRules,
  // One statement for the payment and its child rows (only the fields anchored; bigints as text,
  // as pg gives them): it runs on every anchored write.
  snapshotSql: (paymentId) =>
    `SELECT p.*,
            (SELECT coalesce(json_agg(json_build_object(
                      'attempt', a.attempt, 'source', a.source, 'method', a.method,
                      'status', a.status, 'charge_id', a.charge_id,
                      'failure_code', a.failure_code, 'failure_reason', a.failure_reason,
                      'created_at', a.created_at, 'completed_at', a.completed_at)
                      ORDER BY a.attempt), '[]')
               FROM payment_attempts a WHERE a.payment_id = p.id) AS attempt_rows,
            (SELECT coalesce(json_agg(json_build_object(
                      'id', r.id, 'amount_cents', r.amount_cents::text, 'currency', r.currency,
                      'reason', r.reason, 'cause', r.cause, 'status', r.status,
                      'gateway_refund_id', r.gateway_refund_id, 'failure_reason', r.failure_reason,
                      'requested_by', r.requested_by, 'created_at', r.created_at,
                      'completed_at', r.completed_at) ORDER BY r.created_at, r.id), '[]')
               FROM refunds r WHERE r.payment_id = p.id) AS refund_rows
       FROM payments p WHERE p.id = ${paymentId}`,
  snapshotFrom(rows) {
    const p = (rows as PaymentSnapshotRow[])[0];
    if (!p) return null;
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
    for (const a of p.attempt_rows) {
      changes[`attempt:${a.attempt}`] = {
        kind: 'attempt',
        attempt: a.attempt,
        source: a.source,
        method: a.method,
        status: a.status,
        chargeId: a.charge_id,
        failureCode: a.failure_code,
        failureReason: a.failure_reason,
        createdAt: isoJson(a.created_at),
        completedAt: isoJson(a.completed_at),
      };
    }
    for (const r of p.refund_rows) {
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
        createdAt: isoJson(r.created_at),
        completedAt: isoJson(r.completed_at),
      };
    }
    return { state, rows: changes };
  },
};

/** The payment's snapshot as its anchored entries describe it (paymentRecord). */
export const paymentSnapshot = (db: AnchorQueryable, paymentId: string) =>
  readSnapshot(paymentRecord, db, paymentId);
