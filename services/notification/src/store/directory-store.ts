import type { Pool, PoolClient } from 'pg';
import { writeAtCommit } from '@ecom/common/postgres';
import type { NotificationKind } from '../domain/kinds';

type Db = Pool | PoolClient;

export interface RecipientRow {
  user_id: string;
  email: string | null;
  name: string | null;
  deleted: boolean;
  as_of: Date;
}

export interface RecipientToSend extends RecipientRow {
  opted_out: NotificationKind[];
  /** The digest the address's budget is kept under (null without an address). */
  address_digest: string | null;
  /** The budget slot this mail took (its timestamp, exact, as text), or null. */
  slot: string | null;
}

/**
 * The address as its budget counts it: lower case, without a `+suffix` of the local part (most
 * mailboxes deliver `name+anything@` to `name@`), so variants of one mailbox share one budget.
 * Kept as a digest: the budget table is a counter, not another list of addresses.
 */
const ADDRESS_DIGEST = `encode(sha256(convert_to(
    regexp_replace(lower(r.email), '[+][^@]*@', '@'), 'UTF8')), 'hex')`;

/**
 * $1 user, $2 kind, $3 receipt (an exempt kind), $4 window (ms), $5 max, $6 receipts' max. The
 * slot's timestamp is its identity
 * (to give it back when the send fails), so it is clock_timestamp(), taken once.
 */
const RECIPIENT_TO_SEND = `WITH r AS (
    SELECT r.*, coalesce(p.opted_out, '{}') AS opted_out,
           CASE WHEN r.email IS NULL THEN NULL ELSE ${ADDRESS_DIGEST} END AS address_digest
      FROM recipients r LEFT JOIN preferences p ON p.user_id = r.user_id
     WHERE r.user_id = $1
  ), slot AS (
    INSERT INTO recipient_budgets AS b (address_digest, sent_at, last_sent_at)
    SELECT r.address_digest, ARRAY[c.at], c.at FROM r, (SELECT clock_timestamp() AS at) c
     WHERE NOT r.deleted AND r.address_digest IS NOT NULL AND NOT ($2::text = ANY (r.opted_out))
    ON CONFLICT (address_digest) DO UPDATE SET
      sent_at = ARRAY(
          SELECT t FROM unnest(b.sent_at) AS t
           WHERE t > EXCLUDED.last_sent_at - $4::int * interval '1 millisecond' ORDER BY t
        ) || EXCLUDED.sent_at,
      last_sent_at = EXCLUDED.last_sent_at
    WHERE (
      SELECT count(*) FROM unnest(b.sent_at) AS t
       WHERE t > EXCLUDED.last_sent_at - $4::int * interval '1 millisecond'
    ) < CASE WHEN $3::boolean THEN $6::int ELSE $5::int END
    RETURNING b.last_sent_at::text AS slot
  )
  SELECT r.*, (SELECT slot FROM slot) AS slot FROM r`;

/** The local directory: customers' addresses, orders' owners, preferences. */
export const directoryStore = {
  /**
   * Keeps a user's address as of `asOf` (the event's time): an older event than the one
   * applied changes nothing, and a deleted user stays deleted.
   */
  async upsertRecipient(
    db: Db,
    user: { userId: string; email: string; name: string },
    asOf: Date,
  ): Promise<boolean> {
    const { rowCount } = await db.query(
      `INSERT INTO recipients (user_id, email, name, as_of) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name,
         as_of = EXCLUDED.as_of
       WHERE NOT recipients.deleted AND recipients.as_of <= EXCLUDED.as_of`,
      [user.userId, user.email, user.name, asOf],
    );
    return rowCount === 1;
  },

  /** Forgets the address, keeping a tombstone (a later user.created/updated cannot revive it). */
  async markDeleted(db: Db, userId: string, asOf: Date): Promise<void> {
    await db.query(
      `INSERT INTO recipients (user_id, email, name, deleted, as_of) VALUES ($1, NULL, NULL, true, $2)
       ON CONFLICT (user_id) DO UPDATE SET email = NULL, name = NULL, deleted = true,
         as_of = GREATEST(recipients.as_of, EXCLUDED.as_of)`,
      [userId, asOf],
    );
    await db.query('DELETE FROM preferences WHERE user_id = $1', [userId]);
  },

  /**
   * The sender's per-mail read, one round trip: the recipient, the kinds they opted out of and,
   * when a mail of `kind` would go to them (an address, not opted out), a slot of their
   * address's budget (docs/adr/0059). The slot is taken by one upsert under the budget row's
   * lock: at most `max` mails within `windowMs` per address, however many replicas send at
   * once. A receipt (an exempt kind) takes one while fewer than `receiptsMax` were sent, all
   * kinds counted. `slot` is null when none was taken: over budget, or no mail to send.
   */
  async recipientToSend(
    db: Db,
    userId: string,
    mail: {
      kind: NotificationKind;
      exempt: boolean;
      max: number;
      receiptsMax: number;
      windowMs: number;
    },
  ): Promise<RecipientToSend | null> {
    const { rows } = await db.query<RecipientToSend>(RECIPIENT_TO_SEND, [
      userId,
      mail.kind,
      mail.exempt,
      mail.windowMs,
      mail.max,
      mail.receiptsMax,
    ]);
    return rows[0] ?? null;
  },

  /**
   * Records whose order it is. Nothing in the consumer's transaction reads it back, so it goes
   * with the COMMIT (writeAtCommit): no round trip of its own.
   */
  async setOrderOwner(client: PoolClient, orderId: string, userId: string): Promise<void> {
    await writeAtCommit(client, {
      text: 'INSERT INTO order_owners (order_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      values: [orderId, userId],
    });
  },

  async orderOwner(db: Db, orderId: string): Promise<string | null> {
    const { rows } = await db.query<{ user_id: string }>(
      'SELECT user_id FROM order_owners WHERE order_id = $1',
      [orderId],
    );
    return rows[0]?.user_id ?? null;
  },

  async optedOut(
    db: Db,
    userId: string,
  ): Promise<{ kinds: NotificationKind[]; updatedAt: Date | null }> {
    const { rows } = await db.query<{ opted_out: NotificationKind[]; updated_at: Date }>(
      'SELECT opted_out, updated_at FROM preferences WHERE user_id = $1',
      [userId],
    );
    return { kinds: rows[0]?.opted_out ?? [], updatedAt: rows[0]?.updated_at ?? null };
  },

  /**
   * Opts out of `optOut` and back into `optIn`, applied to the row as stored when it is written:
   * one statement, whose ON CONFLICT locks the row and reads it afresh, so a concurrent change to
   * other kinds is kept rather than overwritten by a stale read. Returns the state after it.
   */
  async changeOptedOut(
    db: Db,
    userId: string,
    change: { optOut: NotificationKind[]; optIn: NotificationKind[] },
  ): Promise<{ kinds: NotificationKind[]; updatedAt: Date }> {
    const { rows } = await db.query<{ opted_out: NotificationKind[]; updated_at: Date }>(
      `INSERT INTO preferences AS p (user_id, opted_out, updated_at) VALUES ($1, $2::text[], now())
       ON CONFLICT (user_id) DO UPDATE SET
         opted_out = ARRAY(
           SELECT DISTINCT k FROM unnest(p.opted_out || $2::text[]) AS k
            WHERE k <> ALL ($3::text[]) ORDER BY k),
         updated_at = now()
       RETURNING opted_out, updated_at`,
      [userId, change.optOut, change.optIn],
    );
    return { kinds: rows[0]!.opted_out, updatedAt: rows[0]!.updated_at };
  },

  /** Budget rows whose last mail left the window hold nothing the budget needs any more. */
  async pruneBudgets(db: Db, windowMs: number): Promise<number> {
    const { rowCount } = await db.query(
      `DELETE FROM recipient_budgets
        WHERE last_sent_at < clock_timestamp() - $1::int * interval '1 millisecond'`,
      [windowMs],
    );
    return rowCount ?? 0;
  },
};
