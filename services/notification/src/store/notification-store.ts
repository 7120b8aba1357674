import type { Pool, PoolClient } from 'pg';
import type { PageQuery } from '@ecom/common/http';
import { selectNewestPage, writeAtCommit, type Statement } from '@ecom/common/postgres';
import type {
  AttemptOutcome,
  NotificationFacts,
  NotificationKind,
  NotificationStatus,
} from '../domain/kinds';

type Db = Pool | PoolClient;

/** A customer's notifications that waited for the order's owner are theirs, and due now. */
const ASSIGN_OWNER = `UPDATE notifications SET user_id = $1, next_attempt_at = now(), updated_at = now()
    WHERE order_id = $2 AND user_id IS NULL`;

export interface NotificationRow {
  id: string;
  event_id: string;
  event_type: string;
  business_key: string;
  kind: NotificationKind;
  order_id: string | null;
  user_id: string | null;
  facts: NotificationFacts;
  status: NotificationStatus;
  recipient: string | null;
  subject: string | null;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
}

export interface AttemptRow {
  notification_id: string;
  attempt: number;
  outcome: AttemptOutcome;
  detail: string | null;
  at: Date;
}

export interface NewNotification {
  id: string;
  eventId: string;
  eventType: string;
  businessKey: string;
  kind: NotificationKind;
  orderId: string | null;
  userId: string | null;
  facts: NotificationFacts;
}

/** The notifications table: what the consumers add, the sender moves and customers list. */
export const notificationStore = {
  /**
   * Adds one unless its event or its business key is there already. Inside the consumer's
   * transaction it goes with the COMMIT (writeAtCommit): nothing there reads whether it was new,
   * so the event's whole transaction can be one round trip. Elsewhere it is written at once.
   */
  async add(client: PoolClient, n: NewNotification): Promise<void> {
    await writeAtCommit(client, {
      text: `INSERT INTO notifications
         (id, event_id, event_type, business_key, kind, order_id, user_id, facts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT DO NOTHING`,
      values: [n.id, n.eventId, n.eventType, n.businessKey, n.kind, n.orderId, n.userId, n.facts],
    });
  },

  /** Pending notifications that are due, soonest first. */
  async due(db: Db, limit: number): Promise<NotificationRow[]> {
    const { text, values } = notificationStore.dueQuery(limit);
    const { rows } = await db.query<NotificationRow>(text, [...(values ?? [])]);
    return rows;
  },

  /** due()'s statement, for a caller that sends it with another (the sender's lock). */
  dueQuery(limit: number): Statement {
    return {
      text: `SELECT * FROM notifications WHERE status = 'PENDING' AND next_attempt_at <= now()
       ORDER BY next_attempt_at, created_at LIMIT $1`,
      values: [limit],
    };
  },

  /** Pending notifications of orders whose owner is now known get it, and are due at once. */
  async assignOwner(db: Db, orderId: string, userId: string): Promise<void> {
    await db.query(ASSIGN_OWNER, [userId, orderId]);
  },

  /** assignOwner inside the consumer's transaction, sent with its COMMIT (writeAtCommit). */
  async assignOwnerAtCommit(client: PoolClient, orderId: string, userId: string): Promise<void> {
    await writeAtCommit(client, { text: ASSIGN_OWNER, values: [userId, orderId] });
  },

  /** A recipient became known: their waiting notifications are due at once. */
  async wake(db: Db, userId: string): Promise<void> {
    await db.query(
      `UPDATE notifications SET next_attempt_at = now(), updated_at = now()
       WHERE user_id = $1 AND status = 'PENDING' AND attempts = 0 AND next_attempt_at > now()`,
      [userId],
    );
  },

  /** Still waiting for its recipient: due again at `next`. No attempt is counted. */
  async postpone(db: Db, id: string, next: Date, reason: string): Promise<void> {
    await db.query(
      `UPDATE notifications SET next_attempt_at = $2, last_error = $3, updated_at = now()
       WHERE id = $1 AND status = 'PENDING'`,
      [id, next, reason],
    );
  },

  /**
   * Records attempt number `attempt` and the notification's new state, in one transaction:
   * SENT / SKIPPED / FAILED close it, PENDING schedules the next attempt at `next`.
   */
  async recordAttempt(
    db: Db,
    id: string,
    attempt: { number: number; outcome: AttemptOutcome; detail: string | null },
    state: {
      status: NotificationStatus;
      next?: Date;
      recipient?: string | null;
      subject?: string | null;
      /**
       * The budget slot this attempt took, given back: the send failed, nothing reached the
       * address, and a retry takes a slot of its own (a relay that is down must not spend
       * every customer's budget).
       */
      release?: { addressDigest: string; slot: string };
    },
  ): Promise<void> {
    // One statement, so atomic without a transaction of its own (one round trip per mail).
    await db.query(
      `WITH attempt AS (
         INSERT INTO notification_attempts (notification_id, attempt, outcome, detail)
         VALUES ($1, $3, $8, $5)
       ), released AS (
         -- One occurrence: two slots taken within the clock's resolution share a time.
         UPDATE recipient_budgets
            SET sent_at = sent_at[:array_position(sent_at, $10::timestamptz) - 1]
                       || sent_at[array_position(sent_at, $10::timestamptz) + 1:]
          WHERE $9::text IS NOT NULL AND address_digest = $9::text
            AND $10::timestamptz = ANY (sent_at)
       )
       UPDATE notifications SET
         status = $2,
         attempts = $3,
         next_attempt_at = COALESCE($4, next_attempt_at),
         last_error = CASE WHEN $2 = 'SENT' THEN NULL ELSE $5 END,
         recipient = COALESCE($6, recipient),
         subject = COALESCE($7, subject),
         sent_at = CASE WHEN $2 = 'SENT' THEN now() ELSE sent_at END,
         updated_at = now()
       WHERE id = $1`,
      [
        id,
        state.status,
        attempt.number,
        state.next ?? null,
        attempt.detail,
        state.recipient ?? null,
        state.subject ?? null,
        attempt.outcome,
        state.release?.addressDigest ?? null,
        state.release?.slot ?? null,
      ],
    );
  },

  /** Gives up on a notification without an attempt (its recipient never became known). */
  async fail(db: Db, id: string, reason: string): Promise<void> {
    await db.query(
      `UPDATE notifications SET status = 'FAILED', last_error = $2, updated_at = now()
       WHERE id = $1 AND status = 'PENDING'`,
      [id, reason],
    );
  },

  async get(db: Db, id: string): Promise<NotificationRow | null> {
    const { rows } = await db.query<NotificationRow>('SELECT * FROM notifications WHERE id = $1', [
      id,
    ]);
    return rows[0] ?? null;
  },

  /** A page of notifications, newest first: one user's, or everyone's (userId undefined). */
  async page(
    db: Db,
    filter: { userId?: string; status?: NotificationStatus; kind?: NotificationKind },
    query: PageQuery,
  ): Promise<{ rows: NotificationRow[]; total: number }> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.userId !== undefined) {
      params.push(filter.userId);
      clauses.push(`user_id = $${params.length}`);
    }
    if (filter.status !== undefined) {
      params.push(filter.status);
      clauses.push(`status = $${params.length}`);
    }
    if (filter.kind !== undefined) {
      params.push(filter.kind);
      clauses.push(`kind = $${params.length}`);
    }
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    return selectNewestPage<NotificationRow>(db, 'notifications', where, params, query);
  },

  async attemptsOf(db: Db, ids: string[]): Promise<AttemptRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await db.query<AttemptRow>(
      `SELECT * FROM notification_attempts WHERE notification_id = ANY($1::uuid[])
       ORDER BY notification_id, attempt`,
      [ids],
    );
    return rows;
  },
};
