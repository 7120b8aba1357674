import type { AnchorQueryable, RecordSnapshot } from '@ecom/common/anchoring';

/**
 * An order as its anchored entries describe it (docs/verification.md §1, "order"): every
 * business field of the order and its lines, and each row holding a change (status history,
 * refunds). Only bookkeeping is left out: correlation_id, updated_at, payment_checked_at and
 * payment_attempt_settled (when the saga last asked or heard about payment) change no fact of
 * the order. The same function feeds writing entries and verifying them.
 *
 * A line carries `fulfilment` (docs/adr/0013) only once it was shipped or delivered on its own:
 * lines never acted on, and every line of an order written before fulfilment was kept per line,
 * give exactly the state they always gave, so entries anchored before still verify.
 */
export async function orderSnapshot(
  db: AnchorQueryable,
  orderId: string,
): Promise<RecordSnapshot | null> {
  const { rows } = await db.query<{
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
  }>(
    `SELECT id, user_id, status, currency, total_cents, refunded_cents, payment_method, payment_id,
            shipping_address, failure_reason, reservation_expires_at, created_at
       FROM orders WHERE id = $1`,
    [orderId],
  );
  const o = rows[0];
  if (!o) return null;
  // One query after another: `db` may be one client, inside the caller's transaction.
  const items = await db.query<{
    line_no: number;
    product_id: string;
    name: string;
    seller_id: string | null;
    quantity: number;
    unit_price_cents: string;
    line_total_cents: string;
    fulfilment_status: string | null;
    shipped_at: Date | null;
    shipped_by: string | null;
    delivered_at: Date | null;
    delivered_by: string | null;
  }>('SELECT * FROM order_items WHERE order_id = $1 ORDER BY line_no', [o.id]);
  const history = await db.query<{
    id: string;
    from_status: string | null;
    to_status: string;
    cause_type: string;
    cause_id: string | null;
    cause_event_type: string | null;
    actor_id: string | null;
    reason: string | null;
    payment_id: string | null;
    at: Date;
  }>('SELECT * FROM order_status_history WHERE order_id = $1 ORDER BY id', [o.id]);
  const refunds = await db.query<{
    refund_id: string;
    payment_id: string;
    amount_cents: string;
    currency: string;
    at: Date;
  }>('SELECT * FROM order_refunds WHERE order_id = $1 ORDER BY at, refund_id', [o.id]);
  // bigint arrives as text; amounts are integer minor units within the safe range.
  const cents = Number;
  const state = {
    orderId: o.id,
    userId: o.user_id,
    status: o.status,
    currency: o.currency.trim(),
    total: cents(o.total_cents),
    refunded: cents(o.refunded_cents),
    items: items.rows.map((i) => ({
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
              shippedAt: i.shipped_at?.toISOString() ?? null,
              shippedBy: i.shipped_by,
              deliveredAt: i.delivered_at?.toISOString() ?? null,
              deliveredBy: i.delivered_by,
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
  for (const h of history.rows) {
    changes[`history:${h.id}`] = {
      kind: 'status',
      from: h.from_status,
      to: h.to_status,
      at: h.at.toISOString(),
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
  for (const r of refunds.rows) {
    changes[`refund:${r.refund_id}`] = {
      kind: 'refund',
      refundId: r.refund_id,
      paymentId: r.payment_id,
      amount: cents(r.amount_cents),
      currency: r.currency.trim(),
      at: r.at.toISOString(),
    };
  }
  return { state, rows: changes };
}
