import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { PaymentAttemptSource } from '@ecom/common/events';
import { selectNewestPage, sendOn, type SendStatement } from '@ecom/common/postgres';
import type { OrderClosed, PayableFacts, PaymentStatus } from '../domain/payment-rules';

export type RefundCause = 'order.cancelled' | 'order.failed' | 'admin';

type Queryable = Pool | PoolClient;

/** Up to 100 rows of `table` still PENDING `olderThanMs` after they were created, oldest first. */
async function stalePending<T extends QueryResultRow>(
  db: Queryable,
  table: 'payment_attempts' | 'refunds',
  olderThanMs: number,
  order = 'created_at',
): Promise<T[]> {
  const { rows } = await db.query<T>(
    `SELECT * FROM ${table} WHERE status = 'PENDING'
       AND created_at <= clock_timestamp() - $1 * interval '1 millisecond'
     ORDER BY ${order} LIMIT 100`,
    [olderThanMs],
  );
  return rows;
}

/** The rows of `table` that belong to the given payments, per payment in `order`. */
async function rowsOfPayments<T extends QueryResultRow>(
  db: Queryable,
  table: 'payment_attempts' | 'refunds',
  order: string,
  paymentIds: string[],
): Promise<T[]> {
  const { rows } = await db.query<T>(
    `SELECT * FROM ${table} WHERE payment_id = ANY($1::uuid[]) ORDER BY payment_id, ${order}`,
    [paymentIds],
  );
  return rows;
}

export interface PaymentRow {
  id: string;
  order_id: string;
  user_id: string | null;
  amount_cents: string | null;
  currency: string | null;
  method: string | null;
  token: string | null;
  order_known: boolean;
  reserved: boolean;
  order_closed: OrderClosed | null;
  status: PaymentStatus;
  attempts: number;
  charge_id: string | null;
  refunded_cents: string;
  failure_code: string | null;
  failure_reason: string | null;
  correlation_id: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface AttemptRow {
  payment_id: string;
  attempt: number;
  idempotency_key: string;
  source: PaymentAttemptSource;
  method: string;
  /** Erased when the attempt is settled. */
  token: string | null;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  charge_id: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  created_at: Date;
  completed_at: Date | null;
  /** An asynchronous provider's payment intent, once its answer named one. */
  intent_id: string | null;
  provider_status: 'processing' | 'requires_action' | null;
  next_action_url: string | null;
  /** Unix seconds of the provider event last recorded (an older one changes nothing). */
  provider_updated_at: string | null;
}

export interface RefundRow {
  id: string;
  payment_id: string;
  amount_cents: string;
  currency: string;
  reason: string | null;
  cause: RefundCause;
  idempotency_key: string;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  gateway_refund_id: string | null;
  failure_reason: string | null;
  requested_by: string | null;
  created_at: Date;
  completed_at: Date | null;
}

export type PaymentPatch = Partial<{
  user_id: string;
  amount_cents: number;
  currency: string;
  method: string | null;
  token: string | null;
  order_known: boolean;
  reserved: boolean;
  order_closed: OrderClosed;
  status: PaymentStatus;
  attempts: number;
  charge_id: string;
  refunded_cents: number;
  failure_code: string | null;
  failure_reason: string | null;
  correlation_id: string;
}>;

/**
 * The row as `update(…, patch)` will return it, for deciding before writing (bigint columns
 * come back from the driver as strings). Only patched columns change; updated_at does not.
 */
export function withPatch(row: PaymentRow, patch: PaymentPatch): PaymentRow {
  const { amount_cents, refunded_cents, ...rest } = patch;
  return {
    ...row,
    ...rest,
    ...(amount_cents === undefined ? {} : { amount_cents: String(amount_cents) }),
    ...(refunded_cents === undefined ? {} : { refunded_cents: String(refunded_cents) }),
  };
}

const PATCHABLE = new Set([
  'user_id',
  'amount_cents',
  'currency',
  'method',
  'token',
  'order_known',
  'reserved',
  'order_closed',
  'status',
  'attempts',
  'charge_id',
  'refunded_cents',
  'failure_code',
  'failure_reason',
  'correlation_id',
]);

/** The columns a patch writes: its keys on the allow-list. */
const patchedColumns = (patch: PaymentPatch): string[] =>
  Object.keys(patch).filter((k) => PATCHABLE.has(k));

/** The SET list of a payment's patch (its patchable keys), parameters from `$first` on. */
function patchSets(patch: PaymentPatch, first: number): { sets: string; values: unknown[] } {
  const keys = patchedColumns(patch);
  const sets = keys.map((k, i) => `${k} = $${i + first}`);
  return {
    sets: [...sets, 'updated_at = clock_timestamp()'].join(', '),
    values: keys.map((k) => patch[k as keyof PaymentPatch]),
  };
}

/** SQL for payments, attempts and refunds. Parameterised queries only. */
export const paymentStore = {
  /**
   * The payment of an order, created empty by whichever event about the order comes first,
   * and locked (FOR UPDATE): every handler of one order runs one after the other.
   */
  async lockForOrder(
    client: PoolClient,
    orderId: string,
    newId: string,
    correlationId: string,
  ): Promise<PaymentRow> {
    // One round trip: a conflict's no-op update locks the existing row (as FOR UPDATE would)
    // and returns its latest version, so every event of an order pays one statement here.
    const { rows } = await client.query<PaymentRow>(
      `INSERT INTO payments (id, order_id, correlation_id) VALUES ($1, $2, $3)
       ON CONFLICT (order_id) DO UPDATE SET order_id = EXCLUDED.order_id
       RETURNING *`,
      [newId, orderId, correlationId],
    );
    return rows[0]!;
  },

  /**
   * The payment of an order created with `patch` already in it, when no payment of the order
   * exists yet; null when one does (another event about the order came first: lock that one
   * with lockForOrder). The new row stays locked, as lockForOrder's would.
   */
  async createForOrder(
    client: PoolClient,
    row: { id: string; orderId: string },
    patch: PaymentPatch,
    send: SendStatement = sendOn(client),
  ): Promise<PaymentRow | null> {
    const keys = patchedColumns(patch);
    const { rows } = await send<PaymentRow>({
      text: `INSERT INTO payments (id, order_id${keys.map((k) => `, ${k}`).join('')})
       VALUES ($1, $2${keys.map((_, i) => `, $${i + 3}`).join('')})
       ON CONFLICT (order_id) DO NOTHING
       RETURNING *`,
      values: [row.id, row.orderId, ...keys.map((k) => patch[k as keyof PaymentPatch])],
    });
    return rows[0] ?? null;
  },

  async lockById(client: PoolClient, id: string): Promise<PaymentRow | null> {
    const { rows } = await client.query<PaymentRow>(
      'SELECT * FROM payments WHERE id = $1 FOR UPDATE',
      [id],
    );
    return rows[0] ?? null;
  },

  async lockByOrderIfExists(client: PoolClient, orderId: string): Promise<PaymentRow | null> {
    const { rows } = await client.query<PaymentRow>(
      'SELECT * FROM payments WHERE order_id = $1 FOR UPDATE',
      [orderId],
    );
    return rows[0] ?? null;
  },

  /** What payment knows of an order's saga, unlocked (initiate's wait for it to catch up). */
  async payableFacts(db: Queryable, orderId: string): Promise<PayableFacts | null> {
    const { rows } = await db.query<PayableFacts>(
      'SELECT user_id, order_known, reserved, order_closed FROM payments WHERE order_id = $1',
      [orderId],
    );
    return rows[0] ?? null;
  },

  async get(db: Queryable, id: string): Promise<PaymentRow | null> {
    const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE id = $1', [id]);
    return rows[0] ?? null;
  },

  /**
   * Payments of orders payment has seen (order.created), newest first; one user's when
   * `userId` is given.
   */
  async list(
    db: Queryable,
    filter: { userId?: string; page: number; limit: number },
  ): Promise<{ rows: PaymentRow[]; total: number }> {
    const params: unknown[] = [];
    let clause = 'WHERE order_known';
    if (filter.userId !== undefined) {
      params.push(filter.userId);
      clause += ` AND user_id = $${params.length}`;
    }
    return selectNewestPage<PaymentRow>(db, 'payments', clause, params, filter);
  },

  async getByOrder(db: Queryable, orderId: string): Promise<PaymentRow | null> {
    const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE order_id = $1', [
      orderId,
    ]);
    return rows[0] ?? null;
  },

  /**
   * Column names come from a fixed allow-list; values are parameters. `send`: how the statement
   * goes (anchoring's, so the payment's anchoring reads travel with it).
   */
  async update(
    client: PoolClient,
    id: string,
    patch: PaymentPatch,
    send: SendStatement = sendOn(client),
  ): Promise<PaymentRow> {
    const { sets, values } = patchSets(patch, 2);
    const { rows } = await send<PaymentRow>({
      text: `UPDATE payments SET ${sets} WHERE id = $1 RETURNING *`,
      values: [id, ...values],
    });
    return rows[0]!;
  },

  /**
   * A new attempt of the payment and the payment's `patch`, in one statement (a charge's claim
   * writes both); the payment as updated.
   */
  async insertAttemptAndUpdate(
    client: PoolClient,
    a: Pick<
      AttemptRow,
      'payment_id' | 'attempt' | 'idempotency_key' | 'source' | 'method' | 'token'
    >,
    patch: PaymentPatch,
    send: SendStatement = sendOn(client),
  ): Promise<PaymentRow> {
    const { sets, values } = patchSets(patch, 7);
    const { rows } = await send<PaymentRow>({
      text: `WITH attempt AS (
         INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method, token)
         VALUES ($1, $2, $3, $4, $5, $6))
       UPDATE payments SET ${sets} WHERE id = $1 RETURNING *`,
      values: [a.payment_id, a.attempt, a.idempotency_key, a.source, a.method, a.token, ...values],
    });
    return rows[0]!;
  },

  /** The attempts of the given payments, in attempt order. */
  attemptsOf(db: Queryable, paymentIds: string[]): Promise<AttemptRow[]> {
    return rowsOfPayments<AttemptRow>(db, 'payment_attempts', 'attempt', paymentIds);
  },

  /**
   * Locks the payment (FOR UPDATE, as every recorder of its attempts does first) and records a
   * claimed attempt's final result if it is still PENDING, in one statement. `settled` is false
   * when another recorder settled it first (the attempt's UPDATE re-reads it after the lock);
   * null when there is no such payment.
   *
   * With `then`, the same statement also writes that patch to the payment when it settled the
   * attempt and the payment is still PROCESSING on it (a charge's success: COMPLETED), and
   * `row` is the payment as written, `moved` true. Otherwise `row` is the payment as locked.
   */
  async lockAndSettleAttempt(
    client: PoolClient,
    paymentId: string,
    attempt: number,
    result: { ok: true; chargeId: string } | { ok: false; code: string; reason: string },
    then?: PaymentPatch,
    send: SendStatement = sendOn(client),
  ): Promise<{ row: PaymentRow; settled: boolean; moved: boolean } | null> {
    const params = [
      paymentId,
      attempt,
      result.ok ? 'SUCCEEDED' : 'FAILED',
      result.ok ? result.chargeId : null,
      result.ok ? null : result.code,
      result.ok ? null : result.reason,
    ];
    const patch = then ? patchSets(then, params.length + 1) : null;
    // The attempt's UPDATE joins the locked row, so it runs once the payment's lock is held; the
    // payment's UPDATE reads the attempt's, so it runs only when this statement settled it. Both
    // rows come back (`moved` tells them apart).
    const { rows } = await send<PaymentRow & { settled_now: boolean; moved: boolean }>({
      text: `WITH locked AS (SELECT * FROM payments WHERE id = $1 FOR UPDATE),
       settled AS (
         UPDATE payment_attempts a
            SET status = $3, charge_id = $4, failure_code = $5, failure_reason = $6,
                completed_at = clock_timestamp(), token = NULL, next_action_url = NULL
           FROM locked
          WHERE a.payment_id = locked.id AND a.attempt = $2 AND a.status = 'PENDING'
          RETURNING a.attempt)${
            patch
              ? `,
       moved AS (
         UPDATE payments p SET ${patch.sets}
           FROM locked
          WHERE p.id = locked.id AND locked.status = 'PROCESSING' AND locked.attempts = $2
            AND EXISTS (SELECT 1 FROM settled)
          RETURNING p.*)`
              : ''
          }
       SELECT locked.*, EXISTS (SELECT 1 FROM settled) AS settled_now, false AS moved FROM locked${
         patch
           ? `
       UNION ALL SELECT moved.*, true, true FROM moved`
           : ''
       }`,
      values: patch ? [...params, ...patch.values] : params,
    });
    const first = rows.find((r) => !r.moved);
    if (!first) return null;
    const written = rows.find((r) => r.moved) ?? first;
    const { settled_now: _settled, moved, ...row } = written;
    return { row, settled: first.settled_now, moved };
  },

  /**
   * A pending provider answer on a still PENDING attempt: its intent, status and next action,
   * unless a newer provider event (`at`, unix seconds) was recorded already.
   */
  async recordPendingAttempt(
    client: PoolClient,
    paymentId: string,
    attempt: number,
    pending: {
      intentId: string;
      status: 'processing' | 'requires_action';
      nextActionUrl: string | null;
      at: number;
    },
  ): Promise<boolean> {
    const { rowCount } = await client.query(
      `UPDATE payment_attempts
          SET intent_id = $3, provider_status = $4, next_action_url = $5, provider_updated_at = $6
        WHERE payment_id = $1 AND attempt = $2 AND status = 'PENDING'
          AND (provider_updated_at IS NULL OR provider_updated_at <= $6)`,
      [paymentId, attempt, pending.intentId, pending.status, pending.nextActionUrl, pending.at],
    );
    return (rowCount ?? 0) > 0;
  },

  /** The attempt a charge idempotency key names (a provider intent carries it). */
  async attemptByKey(db: Queryable, idempotencyKey: string): Promise<AttemptRow | null> {
    const { rows } = await db.query<AttemptRow>(
      'SELECT * FROM payment_attempts WHERE idempotency_key = $1',
      [idempotencyKey],
    );
    return rows[0] ?? null;
  },

  async attempt(db: Queryable, paymentId: string, attempt: number): Promise<AttemptRow | null> {
    const { rows } = await db.query<AttemptRow>(
      'SELECT * FROM payment_attempts WHERE payment_id = $1 AND attempt = $2',
      [paymentId, attempt],
    );
    return rows[0] ?? null;
  },

  /**
   * Records a provider webhook event as handled, with what it did; false when its id was seen
   * already (a replay or a repeated delivery: it must change nothing).
   */
  async recordWebhookEvent(
    client: PoolClient,
    e: { eventId: string; type: string; intentId: string | null; effect: string },
  ): Promise<boolean> {
    const { rowCount } = await client.query(
      `INSERT INTO provider_webhook_events (event_id, type, intent_id, effect)
       VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
      [e.eventId, e.type, e.intentId, e.effect],
    );
    return (rowCount ?? 0) > 0;
  },

  async setWebhookEffect(client: PoolClient, eventId: string, effect: string): Promise<void> {
    await client.query('UPDATE provider_webhook_events SET effect = $2 WHERE event_id = $1', [
      eventId,
      effect,
    ]);
  },

  /**
   * Attempts still PENDING after `olderThanMs` (their recorder died, or their answer was lost):
   * for the reconciler. Those waiting on the customer's action come last: a pass takes at most
   * 100, and charges anyone can leave waiting must not crowd out the ones whose answer was lost.
   */
  stalePendingAttempts(db: Queryable, olderThanMs: number): Promise<AttemptRow[]> {
    return stalePending<AttemptRow>(
      db,
      'payment_attempts',
      olderThanMs,
      `provider_status IS NOT DISTINCT FROM 'requires_action', created_at`,
    );
  },

  /**
   * PENDING attempts that have waited on the customer's action (3-D Secure) for `waitedMs`, or
   * whose order has closed meanwhile (cancelled or failed: the step must not charge the card).
   */
  async waitingAttemptsToCancel(db: Queryable, waitedMs: number): Promise<AttemptRow[]> {
    const { rows } = await db.query<AttemptRow>(
      `SELECT a.* FROM payment_attempts a JOIN payments p ON p.id = a.payment_id
        WHERE a.status = 'PENDING' AND a.provider_status = 'requires_action'
          AND a.intent_id IS NOT NULL
          AND (a.created_at <= clock_timestamp() - $1 * interval '1 millisecond'
               OR p.order_closed IS NOT NULL)
        ORDER BY a.created_at LIMIT 100`,
      [waitedMs],
    );
    return rows;
  },

  async refundCount(client: PoolClient, paymentId: string): Promise<number> {
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM refunds WHERE payment_id = $1',
      [paymentId],
    );
    return Number(rows[0]?.n ?? 0);
  },

  async insertRefund(
    client: PoolClient,
    r: Pick<
      RefundRow,
      'id' | 'payment_id' | 'currency' | 'reason' | 'cause' | 'idempotency_key' | 'requested_by'
    > & { amount_cents: number },
  ): Promise<void> {
    await client.query(
      `INSERT INTO refunds (id, payment_id, amount_cents, currency, reason, cause, idempotency_key,
         requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        r.id,
        r.payment_id,
        r.amount_cents,
        r.currency,
        r.reason,
        r.cause,
        r.idempotency_key,
        r.requested_by,
      ],
    );
  },

  async settleRefund(
    client: PoolClient,
    refundId: string,
    result: { ok: true; refundId: string } | { ok: false; code: string; reason: string },
  ): Promise<RefundRow | null> {
    const { rows } = await client.query<RefundRow>(
      `UPDATE refunds SET status = $2, gateway_refund_id = $3, failure_reason = $4,
              completed_at = clock_timestamp()
        WHERE id = $1 AND status = 'PENDING' RETURNING *`,
      [
        refundId,
        result.ok ? 'SUCCEEDED' : 'FAILED',
        result.ok ? result.refundId : null,
        result.ok ? null : `${result.code}: ${result.reason}`,
      ],
    );
    return rows[0] ?? null;
  },

  /** The refunds of the given payments, oldest first. */
  refundsOf(db: Queryable, paymentIds: string[]): Promise<RefundRow[]> {
    return rowsOfPayments<RefundRow>(db, 'refunds', 'created_at, id', paymentIds);
  },

  /** Owners of the given payments (ids that are not payments are left out). */
  async owners(db: Queryable, ids: string[]): Promise<Map<string, string | null>> {
    const { rows } = await db.query<{ id: string; user_id: string | null }>(
      'SELECT id, user_id FROM payments WHERE id::text = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.user_id]));
  },

  stalePendingRefunds(db: Queryable, olderThanMs: number): Promise<RefundRow[]> {
    return stalePending<RefundRow>(db, 'refunds', olderThanMs);
  },
};
