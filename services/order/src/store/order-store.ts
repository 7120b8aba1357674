import type { Pool, PoolClient } from 'pg';
import type { EventData } from '@ecom/common/events';
import { jsonTimestamp, selectNewestPage, sendOn, type SendStatement } from '@ecom/common/postgres';
import { lineFulfilment, type LineTarget, type StoredFulfilment } from '../domain/fulfilment';
import type { PricedOrder } from '../domain/pricing';
import { TRANSITIONS, type OrderStatus, type TransitionName } from '../domain/state-machine';
import type { Cause, HistoryEntry, Money, Order, ShippingAddress } from '../domain/types';
import { UNPAID_HOLD_STATUSES, type UnpaidHolds } from '../domain/unpaid-holds';

type Queryable = Pool | PoolClient;

interface OrderRow {
  id: string;
  user_id: string;
  status: OrderStatus;
  currency: string;
  total_cents: string;
  refunded_cents: string;
  payment_method: string | null;
  payment_id: string | null;
  shipping_address: ShippingAddress;
  failure_reason: string | null;
  correlation_id: string;
  reservation_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface ItemRow {
  order_id: string;
  line_no: number;
  product_id: string;
  name: string;
  seller_id: string | null;
  quantity: number;
  unit_price_cents: string;
  line_total_cents: string;
  fulfilment_status: StoredFulfilment;
  shipped_at: Date | null;
  delivered_at: Date | null;
}

/** An order line read through JSON: timestamps as text until itemFromJson. */
type JsonItemRow = Omit<ItemRow, 'shipped_at' | 'delivered_at'> & {
  shipped_at: string | null;
  delivered_at: string | null;
};

function itemFromJson(i: JsonItemRow): ItemRow {
  return {
    ...i,
    shipped_at: jsonTimestamp(i.shipped_at),
    delivered_at: jsonTimestamp(i.delivered_at),
  };
}

/** An order's lines (rows `i`) as one JSON array, bigints as text as pg gives them. */
const ITEM_ROWS_JSON = `coalesce(json_agg(json_build_object(
    'order_id', i.order_id, 'line_no', i.line_no, 'product_id', i.product_id,
    'name', i.name, 'seller_id', i.seller_id, 'quantity', i.quantity,
    'unit_price_cents', i.unit_price_cents::text,
    'line_total_cents', i.line_total_cents::text,
    'fulfilment_status', i.fulfilment_status, 'shipped_at', i.shipped_at,
    'delivered_at', i.delivered_at) ORDER BY i.line_no), '[]')`;

// BIGINT arrives as a string from pg; amounts are bounded to safe integers on the way in.
const cents = (value: string): number => Number(value);

/**
 * The order's lines as JSON (ITEM_ROWS_JSON), read in the statement that locks the order row,
 * when they are current; else NULL. A statement's snapshot predates its wait for a row lock:
 * the locked row comes back as its last holder committed it, but the lines would be read as
 * they were before. So they are read only when the locked version (`lockedXmin`) is the one
 * the snapshot sees, that is when nobody committed a change to the row in between. Every
 * writer of order_items holds the order's row lock and also updates the order row (insert with
 * the order, setLineFulfilment), so a change to the lines is always a new version of the row.
 */
function linesIfUnchanged(lockedXmin: string, orderIdParam: string): string {
  return `CASE WHEN ${lockedXmin}::text = (SELECT s.xmin::text FROM orders s WHERE s.id = ${orderIdParam})
            THEN (SELECT ${ITEM_ROWS_JSON} FROM order_items i WHERE i.order_id = ${orderIdParam}) END`;
}

/** The lines a locked read brought, or (when they could be stale) a read of their own. */
async function linesOf(
  db: Queryable,
  row: { id: string; item_rows: JsonItemRow[] | null },
): Promise<ItemRow[]> {
  if (row.item_rows) return row.item_rows.map(itemFromJson);
  const { rows } = await db.query<ItemRow>(
    'SELECT * FROM order_items WHERE order_id = $1 ORDER BY line_no',
    [row.id],
  );
  return rows;
}

function toOrder(row: OrderRow, items: ItemRow[]): Order {
  const currency = row.currency.trim();
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    items: items.map((i) => ({
      lineNo: i.line_no,
      productId: i.product_id,
      name: i.name,
      sellerId: i.seller_id,
      quantity: i.quantity,
      unitPrice: { amount: cents(i.unit_price_cents), currency },
      lineTotal: { amount: cents(i.line_total_cents), currency },
      fulfilmentStatus: lineFulfilment(i.fulfilment_status, row.status),
      shippedAt: i.shipped_at?.toISOString() ?? null,
      deliveredAt: i.delivered_at?.toISOString() ?? null,
    })),
    total: { amount: cents(row.total_cents), currency },
    refunded: { amount: cents(row.refunded_cents), currency },
    paymentMethod: row.payment_method,
    paymentId: row.payment_id,
    shippingAddress: row.shipping_address,
    failureReason: row.failure_reason,
    correlationId: row.correlation_id,
    reservationExpiresAt: row.reservation_expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function causeColumns(cause: Cause): [string, string | null, string | null, string | null] {
  switch (cause.type) {
    case 'event':
      return ['event', cause.eventId, cause.eventType, null];
    case 'request':
      return ['request', cause.requestId, null, cause.userId];
    case 'system':
      return ['system', cause.name, null, null];
  }
}

interface CauseColumns {
  cause_type: Cause['type'];
  cause_id: string | null;
  cause_event_type: string | null;
  actor_id: string | null;
}

function causeFromColumns(r: CauseColumns): Cause {
  return r.cause_type === 'event'
    ? { type: 'event', eventId: r.cause_id ?? '', eventType: r.cause_event_type ?? '' }
    : r.cause_type === 'request'
      ? { type: 'request', requestId: r.cause_id ?? '', userId: r.actor_id ?? '' }
      : { type: 'system', name: r.cause_id ?? '' };
}

export interface NewOrder {
  id: string;
  userId: string;
  priced: PricedOrder;
  paymentMethod: string | null;
  shippingAddress: ShippingAddress;
  correlationId: string;
}

export interface TransitionInput {
  orderId: string;
  transition: TransitionName;
  /**
   * The transition applied instead when the order came without payment details, chosen under
   * the row lock by the same statement (inventory.reserved needs no read of its own first).
   */
  withoutPaymentDetails?: TransitionName;
  cause: Cause;
  reason?: string;
  /** Extra columns set with the status. */
  set?: {
    failureReason?: string;
    paymentId?: string;
    /** Starts the reservation clock if it has not started yet. */
    reservationTtlMs?: number;
  };
  /**
   * Applies only while the order has seen no outcome of this payment attempt or a later one
   * (payment_attempt_settled below it): a payment.initiated overtaken by its own outcome.
   */
  paymentAttemptAbove?: number;
}

export type TransitionResult =
  | {
      applied: true;
      order: Order;
      from: OrderStatus;
      historyId: string;
      at: string;
      /** The transition that applied (input.transition or its withoutPaymentDetails). */
      transition: TransitionName;
    }
  | {
      applied: false;
      current: OrderStatus | null;
      /** The highest payment attempt whose outcome the order has seen (no order: absent). */
      settledAttempt?: number;
    };

export interface ListFilter {
  userId?: string;
  /** Orders with at least one line of this seller; only those lines are returned. */
  sellerId?: string;
  status?: OrderStatus;
  page: number;
  limit: number;
}

/** SQL for orders, items and their history. Parameterised queries only. */
/**
 * The statuses of an unpaid hold, written into the count's text: a partial index's condition
 * is matched only against literals, never a parameter (a statement planned once per connection
 * would otherwise scan every order of the account).
 */
const UNPAID_STATUS_LIST = UNPAID_HOLD_STATUSES.map((s) => `'${s}'`).join(', ');

export const orderStore = {
  /**
   * One statement: the order, its lines and its first history row (data-modifying CTEs), read
   * back from what the inserts return, in the shape `get` reads.
   */
  async insert(
    client: PoolClient,
    order: NewOrder,
    cause: Cause,
    send: SendStatement = sendOn(client),
  ): Promise<Order> {
    const [type, id, eventType, actor] = causeColumns(cause);
    const lines = order.priced.lines.map((line) => ({
      line_no: line.lineNo,
      product_id: line.productId,
      name: line.name,
      seller_id: line.sellerId,
      quantity: line.quantity,
      unit_price_cents: line.unitPriceCents,
      line_total_cents: line.lineTotalCents,
    }));
    const { rows } = await send<OrderRow & { item_rows: JsonItemRow[] }>({
      text: `WITH o AS (
         INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method,
           shipping_address, correlation_id)
         VALUES ($1, $2, 'PENDING', $3, $4, $5, $6, $7)
         RETURNING *
       ), i AS (
         INSERT INTO order_items (order_id, line_no, product_id, name, seller_id, quantity,
           unit_price_cents, line_total_cents)
         SELECT $1, l.line_no, l.product_id, l.name, l.seller_id, l.quantity,
                l.unit_price_cents, l.line_total_cents
           FROM jsonb_to_recordset($8::jsonb) AS l(line_no int, product_id text, name text,
                  seller_id text, quantity int, unit_price_cents bigint, line_total_cents bigint)
         RETURNING *
       ), h AS (
         INSERT INTO order_status_history (order_id, from_status, to_status, cause_type,
           cause_id, cause_event_type, actor_id)
         VALUES ($1, NULL, 'PENDING', $9, $10, $11, $12)
       )
       SELECT o.*, (SELECT ${ITEM_ROWS_JSON} FROM i) AS item_rows FROM o`,
      values: [
        order.id,
        order.userId,
        order.priced.currency,
        order.priced.totalCents,
        order.paymentMethod,
        JSON.stringify(order.shippingAddress),
        order.correlationId,
        JSON.stringify(lines),
        type,
        id,
        eventType,
        actor,
      ],
    });
    const row = rows[0]!;
    return toOrder(row, row.item_rows.map(itemFromJson));
  },

  /** The order; with `forUpdate`, its row locked until the caller's transaction ends. */
  async get(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<Order | null> {
    if (!opts.forUpdate) {
      // One round trip: the lines come along as JSON (bigints as text, as pg gives them).
      const { rows } = await db.query<OrderRow & { item_rows: JsonItemRow[] }>(
        `SELECT o.*,
                (SELECT ${ITEM_ROWS_JSON} FROM order_items i WHERE i.order_id = o.id) AS item_rows
           FROM orders o WHERE o.id = $1`,
        [id],
      );
      const row = rows[0];
      return row ? toOrder(row, row.item_rows.map(itemFromJson)) : null;
    }
    // Locked: one statement, and its lines only when they are the lock holder's (see
    // linesIfUnchanged); else a statement of their own, after the lock, reads them.
    const { rows } = await db.query<OrderRow & { item_rows: JsonItemRow[] | null }>(
      `SELECT o.*, ${linesIfUnchanged('o.xmin', '$1')} AS item_rows
         FROM orders o WHERE o.id = $1 FOR UPDATE`,
      [id],
    );
    const row = rows[0];
    if (!row) return null;
    return toOrder(row, await linesOf(db, row));
  },

  async list(db: Queryable, filter: ListFilter): Promise<{ orders: Order[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.userId !== undefined) {
      params.push(filter.userId);
      where.push(`user_id = $${params.length}`);
    }
    if (filter.status !== undefined) {
      params.push(filter.status);
      where.push(`status = $${params.length}`);
    }
    if (filter.sellerId !== undefined) {
      params.push(filter.sellerId);
      where.push(
        `EXISTS (SELECT 1 FROM order_items s WHERE s.order_id = orders.id AND s.seller_id = $${params.length})`,
      );
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const { rows, total } = await selectNewestPage<OrderRow>(db, 'orders', clause, params, filter);
    const ids = rows.map((r) => r.id);
    const items = ids.length
      ? (
          await db.query<ItemRow>(
            `SELECT * FROM order_items WHERE order_id = ANY($1::uuid[])
               AND ($2::text IS NULL OR seller_id = $2) ORDER BY order_id, line_no`,
            [ids, filter.sellerId ?? null],
          )
        ).rows
      : [];
    return {
      orders: rows.map((r) =>
        toOrder(
          r,
          items.filter((i) => i.order_id === r.id),
        ),
      ),
      total,
    };
  },

  async history(db: Queryable, orderId: string): Promise<HistoryEntry[]> {
    const { rows } = await db.query<{
      from_status: OrderStatus | null;
      to_status: OrderStatus;
      cause_type: Cause['type'];
      cause_id: string | null;
      cause_event_type: string | null;
      actor_id: string | null;
      reason: string | null;
      at: Date;
    }>('SELECT * FROM order_status_history WHERE order_id = $1 ORDER BY id', [orderId]);
    return rows.map((r) => ({
      from: r.from_status,
      to: r.to_status,
      at: r.at.toISOString(),
      reason: r.reason,
      cause: causeFromColumns(r),
    }));
  },

  /**
   * Applies a named transition. The UPDATE names the statuses it expects to leave, so a
   * concurrent or late change makes it a no-op (applied: false) instead of a wrong write.
   * The row lock taken by the CTE also gives us the status we left, for the history, and on a
   * no-op the status that stopped it (no order: no row at all).
   */
  async transition(
    client: PoolClient,
    input: TransitionInput,
    send: SendStatement = sendOn(client),
  ): Promise<TransitionResult> {
    const rule = TRANSITIONS[input.transition];
    const otherwise = input.withoutPaymentDetails ?? input.transition;
    const [causeType, causeId, causeEventType, actorId] = causeColumns(input.cause);
    // The guarded update, its history row and the moved order in one statement (one round trip
    // per saga step).
    const { rows } = await send<
      Partial<OrderRow> & {
        current: OrderStatus;
        previous: OrderStatus | null;
        history_id: string | null;
        settled: number;
        item_rows: JsonItemRow[] | null;
        with_details: boolean;
      }
    >({
      text: `WITH prev AS (
         SELECT id, status, payment_attempt_settled, xmin AS version,
                coalesce(payment_method, '') <> '' AS with_details
           FROM orders WHERE id = $1 FOR UPDATE),
       moved AS (
         UPDATE orders o
            SET status = CASE WHEN prev.with_details THEN $3 ELSE $14 END,
                updated_at = clock_timestamp(),
                failure_reason = COALESCE($4, o.failure_reason),
                payment_id = COALESCE($5, o.payment_id),
                reservation_expires_at = CASE WHEN $6::bigint IS NULL THEN o.reservation_expires_at
                  ELSE COALESCE(o.reservation_expires_at, clock_timestamp() + $6::bigint * interval '1 millisecond') END
           FROM prev
          WHERE o.id = prev.id
            AND o.status = ANY(CASE WHEN prev.with_details THEN $2::text[] ELSE $13::text[] END)
            AND ($12::int IS NULL OR o.payment_attempt_settled < $12::int)
          RETURNING o.*, prev.status AS previous),
       history AS (
         INSERT INTO order_status_history (order_id, from_status, to_status, cause_type, cause_id,
           cause_event_type, actor_id, reason, payment_id)
         SELECT moved.id, moved.previous, moved.status, $7, $8, $9, $10, $11, moved.payment_id FROM moved
         RETURNING id)
       SELECT moved.*, prev.status AS current, history.id AS history_id,
              prev.payment_attempt_settled AS settled, prev.with_details,
              CASE WHEN moved.id IS NOT NULL THEN ${linesIfUnchanged('prev.version', '$1')} END AS item_rows
         FROM prev LEFT JOIN moved ON true LEFT JOIN history ON true`,
      values: [
        input.orderId,
        rule.from,
        rule.to,
        input.set?.failureReason ?? null,
        input.set?.paymentId ?? null,
        input.set?.reservationTtlMs ?? null,
        causeType,
        causeId,
        causeEventType,
        actorId,
        input.reason ?? null,
        input.paymentAttemptAbove ?? null,
        TRANSITIONS[otherwise].from,
        TRANSITIONS[otherwise].to,
      ],
    });
    const row = rows[0];
    // Not moved: the status under the lock (the newest committed) says why, no second read.
    if (!row) return { applied: false, current: null };
    if (!row.previous || !row.history_id)
      return { applied: false, current: row.current, settledAttempt: row.settled };
    const moved = row as OrderRow & typeof row;
    return {
      applied: true,
      order: toOrder(moved, await linesOf(client, moved)),
      from: row.previous,
      historyId: row.history_id,
      at: moved.updated_at.toISOString(),
      transition: row.with_details ? input.transition : otherwise,
    };
  },

  /**
   * Moves lines of an order to `to` (SHIPPED or DELIVERED), stamping when and by whom. Call it
   * with the order row locked (get with forUpdate) and follow with the order's own transition
   * (domain/fulfilment.ts followLines) in the same transaction.
   */
  async setLineFulfilment(
    client: PoolClient,
    orderId: string,
    lineNos: number[],
    to: LineTarget,
    actorId: string | null,
  ): Promise<void> {
    await client.query(
      `UPDATE order_items
          SET fulfilment_status = $3::text,
              shipped_at = CASE WHEN $3::text = 'SHIPPED' THEN clock_timestamp() ELSE shipped_at END,
              shipped_by = CASE WHEN $3::text = 'SHIPPED' THEN $4::text ELSE shipped_by END,
              delivered_at = CASE WHEN $3::text = 'DELIVERED' THEN clock_timestamp() ELSE delivered_at END,
              delivered_by = CASE WHEN $3::text = 'DELIVERED' THEN $4::text ELSE delivered_by END
        WHERE order_id = $1 AND line_no = ANY($2::int[])`,
      [orderId, lineNos, to, actorId],
    );
    await client.query('UPDATE orders SET updated_at = clock_timestamp() WHERE id = $1', [orderId]);
  },

  /** Owners of the given orders (ids that are not orders are left out). */
  async owners(db: Queryable, ids: string[]): Promise<Map<string, string>> {
    const { rows } = await db.query<{ id: string; user_id: string }>(
      'SELECT id, user_id FROM orders WHERE id::text = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.user_id]));
  },

  /** Records that the outcome of payment attempt `attempt` was seen (locks the order row). */
  async settlePaymentAttempt(client: PoolClient, orderId: string, attempt: number): Promise<void> {
    await client.query(
      'UPDATE orders SET payment_attempt_settled = GREATEST(payment_attempt_settled, $2) WHERE id = $1',
      [orderId, attempt],
    );
  },

  /**
   * Records a refund payment made (once per refund id) and adds it to the order's refunded
   * amount. 'unknown' when there is no such order, 'duplicate' when the refund was recorded.
   */
  async addRefund(
    client: PoolClient,
    refund: { orderId: string; refundId: string; paymentId: string; amount: Money },
  ): Promise<'added' | 'duplicate' | 'unknown'> {
    const order = await client.query('SELECT 1 FROM orders WHERE id = $1 FOR UPDATE', [
      refund.orderId,
    ]);
    if (!order.rowCount) return 'unknown';
    const { rowCount } = await client.query(
      `INSERT INTO order_refunds (refund_id, order_id, payment_id, amount_cents, currency)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (refund_id) DO NOTHING`,
      [
        refund.refundId,
        refund.orderId,
        refund.paymentId,
        refund.amount.amount,
        refund.amount.currency,
      ],
    );
    if (!rowCount) return 'duplicate';
    await client.query(
      `UPDATE orders SET refunded_cents = LEAST(total_cents, refunded_cents + $2),
         updated_at = clock_timestamp() WHERE id = $1`,
      [refund.orderId, refund.amount.amount],
    );
    return 'added';
  },

  /** Ids of orders whose reservation ran out while waiting for payment (skips locked rows). */
  async expiredAwaitingPayment(client: PoolClient, limit: number): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM orders
        WHERE status = 'AWAITING_PAYMENT' AND reservation_expires_at <= clock_timestamp()
        ORDER BY reservation_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((r) => r.id);
  },

  /**
   * PAYMENT_PROCESSING orders unchanged for `overdueMs` that payment was not asked about in
   * the last `overdueMs`; marks them asked (skips rows another instance holds).
   */
  async claimOverduePayments(client: PoolClient, overdueMs: number, limit: number) {
    const { rows } = await client.query<{ id: string }>(
      `UPDATE orders SET payment_checked_at = clock_timestamp()
        WHERE id IN (
          SELECT id FROM orders
           WHERE status = 'PAYMENT_PROCESSING'
             AND updated_at <= clock_timestamp() - $1::bigint * interval '1 millisecond'
             AND (payment_checked_at IS NULL
                  OR payment_checked_at <= clock_timestamp() - $1::bigint * interval '1 millisecond')
           ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING id`,
      [overdueMs, limit],
    );
    return rows.map((r) => r.id);
  },

  /** PAYMENT_PROCESSING orders unchanged for `giveUpMs` (skips rows another instance holds). */
  async stuckPayments(client: PoolClient, giveUpMs: number, limit: number): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM orders
        WHERE status = 'PAYMENT_PROCESSING'
          AND updated_at <= clock_timestamp() - $1::bigint * interval '1 millisecond'
        ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [giveUpMs, limit],
    );
    return rows.map((r) => r.id);
  },

  /**
   * PENDING orders unchanged for `afterMs` whose order.created was re-sent fewer than
   * `maxResends` times, and not in the last `afterMs`; counts the re-send and marks it now
   * (skips rows another instance holds).
   */
  async claimPendingResends(
    client: PoolClient,
    afterMs: number,
    maxResends: number,
    limit: number,
  ): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `UPDATE orders SET created_resends = created_resends + 1, created_resent_at = clock_timestamp()
        WHERE id IN (
          SELECT id FROM orders
           WHERE status = 'PENDING' AND created_resends < $2
             AND updated_at <= clock_timestamp() - $1::bigint * interval '1 millisecond'
             AND (created_resent_at IS NULL
                  OR created_resent_at <= clock_timestamp() - $1::bigint * interval '1 millisecond')
           ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id`,
      [afterMs, maxResends, limit],
    );
    return rows.map((r) => r.id);
  },

  /**
   * PENDING orders whose order.created was re-sent `maxResends` times, the last one (or the
   * creation, with no re-sends) `afterMs` ago: nobody is answering (skips locked rows).
   */
  async abandonedPending(
    client: PoolClient,
    afterMs: number,
    maxResends: number,
    limit: number,
  ): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM orders
        WHERE status = 'PENDING' AND created_resends >= $2
          AND COALESCE(created_resent_at, updated_at)
              <= clock_timestamp() - $1::bigint * interval '1 millisecond'
        ORDER BY updated_at LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [afterMs, maxResends, limit],
    );
    return rows.map((r) => r.id);
  },

  /** The data of the order.created the order was created with (still in the outbox), or null. */
  async originalCreated(
    db: Queryable,
    orderId: string,
  ): Promise<EventData<'order.created'> | null> {
    const { rows } = await db.query<{ data: EventData<'order.created'> }>(
      `SELECT payload->'data' AS data FROM event_outbox
        WHERE event_type = 'order.created' AND payload->'data'->>'orderId' = $1
        ORDER BY id LIMIT 1`,
      [orderId],
    );
    return rows[0]?.data ?? null;
  },

  /**
   * What `userId` holds in orders placed without payment details and not yet paid, read under
   * a lock of that account's own (held to the end of the transaction): two orders of one account
   * placed at once are counted one after the other, so they cannot pass the limit together.
   */
  async unpaidHoldsOf(client: PoolClient, userId: string): Promise<UnpaidHolds> {
    // Two statements: a statement sees what was committed when it began, so the count must
    // begin after the lock is held, to see the order the lock waited for.
    await client.query(`SELECT pg_advisory_xact_lock(hashtextextended('order:unpaid:' || $1, 0))`, [
      userId,
    ]);
    const { rows } = await client.query<UnpaidHolds>(
      `SELECT count(DISTINCT o.id)::int AS orders, coalesce(sum(i.quantity), 0)::int AS units
         FROM orders o JOIN order_items i ON i.order_id = o.id
        WHERE o.user_id = $1 AND o.payment_method IS NULL AND o.status IN (${UNPAID_STATUS_LIST})`,
      [userId],
    );
    return rows[0]!;
  },

  /**
   * Marks the account closed, so no order is placed for it from now on (the orders table's
   * trigger refuses one: migration 012). The lock waits for orders being placed for it to
   * commit, so a list of its orders read after this call includes them.
   */
  async closeAccount(client: PoolClient, userId: string): Promise<void> {
    await client.query(
      `SELECT pg_advisory_xact_lock(hashtextextended('order:account:' || $1, 0))`,
      [userId],
    );
    await client.query(
      'INSERT INTO closed_accounts (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING',
      [userId],
    );
  },

  /** Ids of a user's orders in one of `statuses`, locked. */
  async ordersOfUser(
    client: PoolClient,
    userId: string,
    statuses: readonly OrderStatus[],
  ): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `SELECT id FROM orders WHERE user_id = $1 AND status = ANY($2::text[])
        ORDER BY created_at FOR UPDATE`,
      [userId, statuses],
    );
    return rows.map((r) => r.id);
  },
};
