import {
  asFields,
  readSnapshot,
  sameContent,
  type AnchorQueryable,
  type ChangeRules,
  type RecordTypeConfig,
} from '@ecom/common/anchoring';
import { jsonTimestamp } from '@ecom/common/postgres';

/** A timestamp read through JSON, as toISOString of the Date pg would have given. */
const iso = (value: string | null | undefined): string | null =>
  jsonTimestamp(value)?.toISOString() ?? null;

/** The statement's row: the order's columns, and its child rows through JSON (bigints as numbers, timestamps as text). */
type OrderRow = {
  id: string;
  user_id: string;
  status: string;
  currency: string;
  total_cents: string;
  refunded_cents: string;
  payment_method: string | null;
  payment_id: string | null;
  shipping_address: unknown;
  failure_reason: string | null;
  reservation_expires_at: Date | null;
  created_at: Date;
  items: Array<{
    line_no: number;
    product_id: string;
    name: string;
    seller_id: string | null;
    quantity: number;
    unit_price_cents: number;
    line_total_cents: number;
    /** Absent before migration 008, like the next four. */
    fulfilment_status?: string | null;
    shipped_at?: string | null;
    shipped_by?: string | null;
    delivered_at?: string | null;
    delivered_by?: string | null;
  }>;
  history: Array<{
    id: number;
    from_status: string | null;
    to_status: string;
    cause_type: string;
    cause_id: string | null;
    cause_event_type: string | null;
    actor_id: string | null;
    reason: string | null;
    payment_id: string | null;
    at: string;
  }>;
  refunds: Array<{
    refund_id: string;
    payment_id: string;
    amount_cents: number;
    currency: string;
    at: string;
  }>;
};

/** Order lines that differ in nothing but their `fulfilment`. */
function onlyFulfilmentMoved(before: unknown, after: unknown): boolean {
  if (!Array.isArray(before) || !Array.isArray(after) || before.length !== after.length) {
    return false;
  }
  const bare = (lines: unknown[]) =>
    lines.map((l) => {
      const { fulfilment: _moved, ...rest } = asFields(l);
      return rest;
    });
  return sameContent(bare(before), bare(after));
}

/**
 * What order changes with each row it writes (docs/verification.md §1, ADR 0058): a status row
 * the status and what goes with it, a shipment its lines' fulfilment, a refund the refunded
 * amount. Anything else a write changes (a total, an address) gets a `state` entry of its own.
 */
const orderChangeRules: ChangeRules = {
  status: {
    status: true,
    failureReason: true,
    paymentId: true,
    reservationExpiresAt: true,
    items: onlyFulfilmentMoved,
  },
  // By exactly the refund's amount: a refunded total edited by hand shows on its own.
  refund: {
    refunded: (before, after, change) =>
      Number(after) - Number(before) === Number(asFields(change).amount),
  },
};

/**
 * An order as its anchored entries describe it (docs/verification.md §1, "order"): every
 * business field of the order and its lines, and each row holding a change (status history,
 * refunds). Only bookkeeping is left out: correlation_id, updated_at, payment_checked_at and
 * payment_attempt_settled (when the saga last asked or heard about payment) change no fact of
 * the order. The same statement feeds writing entries and verifying them.
 *
 * A line carries `fulfilment` (docs/adr/0013) only once it was shipped or delivered on its own:
 * lines never acted on, and every line of an order written before fulfilment was kept per line,
 * give exactly the state they always gave, so entries anchored before still verify.
 */
export const orderRecord: RecordTypeConfig = {
  changes: orderChangeRules,
  // One statement for the order and its child rows, whole (as SELECT * read them, so an order
  // table of any migration reads alike). It runs on every anchored write.
  snapshotSql: (orderId) =>
    `SELECT o.id, o.user_id, o.status, o.currency, o.total_cents, o.refunded_cents,
            o.payment_method, o.payment_id, o.shipping_address, o.failure_reason,
            o.reservation_expires_at, o.created_at,
            (SELECT coalesce(json_agg(i ORDER BY i.line_no), '[]')
               FROM order_items i WHERE i.order_id = o.id) AS items,
            (SELECT coalesce(json_agg(h ORDER BY h.id), '[]')
               FROM order_status_history h WHERE h.order_id = o.id) AS history,
            (SELECT coalesce(json_agg(r ORDER BY r.at, r.refund_id), '[]')
               FROM order_refunds r WHERE r.order_id = o.id) AS refunds
       FROM orders o WHERE o.id = ${orderId}`,
  snapshotFrom(rows) {
    const o = (rows as OrderRow[])[0];
    if (!o) return null;
    // Amounts are integer minor units within the safe range (bigint: text from a column, a number
    // through JSON).
    const cents = Number;
    const state = {
      orderId: o.id,
      userId: o.user_id,
      status: o.status,
      currency: o.currency.trim(),
      total: cents(o.total_cents),
      refunded: cents(o.refunded_cents),
      items: o.items.map((i) => ({
        lineNo: i.line_no,
        productId: i.product_id,
        name: i.name,
        sellerId: i.seller_id,
        quantity: i.quantity,
        unitPrice: cents(i.unit_price_cents),
        lineTotal: cents(i.line_total_cents),
        ...(!i.fulfilment_status
          ? {}
          : {
              fulfilment: {
                status: i.fulfilment_status,
                shippedAt: iso(i.shipped_at),
                shippedBy: i.shipped_by ?? null,
                deliveredAt: iso(i.delivered_at),
                deliveredBy: i.delivered_by ?? null,
              },
            }),
      })),
      shippingAddress: o.shipping_address,
      paymentMethod: o.payment_method,
      paymentId: o.payment_id,
      failureReason: o.failure_reason,
      reservationExpiresAt: o.reservation_expires_at?.toISOString() ?? null,
      createdAt: o.created_at.toISOString(),
    };
    const changes: Record<string, unknown> = {};
    for (const h of o.history) {
      changes[`history:${h.id}`] = {
        kind: 'status',
        from: h.from_status,
        to: h.to_status,
        at: iso(h.at),
        reason: h.reason,
        cause: {
          type: h.cause_type,
          id: h.cause_id,
          eventType: h.cause_event_type,
          actorId: h.actor_id,
        },
        paymentId: h.payment_id,
      };
    }
    for (const r of o.refunds) {
      changes[`refund:${r.refund_id}`] = {
        kind: 'refund',
        refundId: r.refund_id,
        paymentId: r.payment_id,
        amount: cents(r.amount_cents),
        currency: r.currency.trim(),
        at: iso(r.at),
      };
    }
    return { state, rows: changes };
  },
};

/** The order's snapshot as its anchored entries describe it (orderRecord). */
export const orderSnapshot = (db: AnchorQueryable, orderId: string) =>
  readSnapshot(orderRecord, db, orderId);
