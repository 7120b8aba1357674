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

  /** A recipient with the kinds they opted out of, in one round trip (the sender's per-mail read). */
  async recipientWithOptOuts(
    db: Db,
    userId: string,
  ): Promise<(RecipientRow & { opted_out: NotificationKind[] }) | null> {
    const { rows } = await db.query<RecipientRow & { opted_out: NotificationKind[] }>(
      `SELECT r.*, coalesce(p.opted_out, '{}') AS opted_out
         FROM recipients r LEFT JOIN preferences p ON p.user_id = r.user_id
        WHERE r.user_id = $1`,
      [userId],
    );
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
};
