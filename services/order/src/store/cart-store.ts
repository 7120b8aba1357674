import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { withTransaction } from '@ecom/common/postgres';
import type { CartContent, CartLine } from '../domain/cart';

type Queryable = Pool | PoolClient;

/** Whose cart: a signed-in customer's, or a guest's (by the hash of its token). */
export type CartOwner = { userId: string } | { tokenHash: string };

export interface StoredCart {
  id: string;
  kind: 'customer' | 'guest';
  lines: CartLine[];
  /**
   * The cart's one currency (domain/cart.ts cartCurrency): null while empty, and in a cart
   * stored before carts kept it, until its first read or change.
   */
  currency: string | null;
  /** Grows with every change of the lines: checkout closes the version it priced, no other. */
  version: number;
  updatedAt: string;
}

interface CartRow {
  id: string;
  user_id: string | null;
  lines: CartLine[];
  currency: string | null;
  version: number;
  updated_at: Date;
}

const COLUMNS = 'id, user_id, lines, currency, version, updated_at';

const toCart = (row: CartRow): StoredCart => ({
  id: row.id,
  kind: row.user_id === null ? 'guest' : 'customer',
  lines: row.lines,
  currency: row.currency,
  version: row.version,
  updatedAt: row.updated_at.toISOString(),
});

function whose(owner: CartOwner): { sql: string; value: string } {
  return 'userId' in owner
    ? { sql: 'user_id = $1', value: owner.userId }
    : { sql: 'token_hash = $1', value: owner.tokenHash };
}

async function findOpen(
  db: Queryable,
  owner: CartOwner,
  lock: boolean,
): Promise<StoredCart | null> {
  const { sql, value } = whose(owner);
  const { rows } = await db.query<CartRow>(
    `SELECT ${COLUMNS} FROM carts WHERE ${sql} AND status = 'OPEN'${lock ? ' FOR UPDATE' : ''}`,
    [value],
  );
  return rows[0] ? toCart(rows[0]) : null;
}

/** The customer's open cart, locked; made empty first when there is none (race-safe). */
async function lockCustomerCart(client: PoolClient, userId: string): Promise<StoredCart> {
  const existing = await findOpen(client, { userId }, true);
  if (existing) return existing;
  await client.query(
    `INSERT INTO carts (id, user_id) VALUES ($1, $2)
     ON CONFLICT (user_id) WHERE status = 'OPEN' AND user_id IS NOT NULL DO NOTHING`,
    [randomUUID(), userId],
  );
  return (await findOpen(client, { userId }, true))!;
}

async function writeContent(client: PoolClient, cart: StoredCart, content: CartContent) {
  const { rows } = await client.query<CartRow>(
    `UPDATE carts SET lines = $2, currency = $3, version = version + 1, updated_at = now()
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [cart.id, JSON.stringify(content.lines), content.currency],
  );
  return toCart(rows[0]!);
}

/**
 * Carts in order_db. Every change of the lines is read-modify-write under the cart's row lock
 * (the rules are pure functions of the lines: domain/cart.ts), so two tabs adding at once both
 * count.
 */
export const cartStore = {
  open: (db: Queryable, owner: CartOwner) => findOpen(db, owner, false),

  async createGuest(db: Queryable, tokenHash: string): Promise<StoredCart> {
    const { rows } = await db.query<CartRow>(
      `INSERT INTO carts (id, token_hash) VALUES ($1, $2) RETURNING ${COLUMNS}`,
      [randomUUID(), tokenHash],
    );
    return toCart(rows[0]!);
  },

  /**
   * Applies `change` to the open cart's lines and currency. A customer's cart is made on first
   * use; a guest cart that is gone (expired, merged) gives null. `change` throwing rolls
   * everything back (a customer's cart made for it too), so a change refused once priced writes
   * nothing.
   */
  change(
    pool: Pool,
    owner: CartOwner,
    change: (cart: CartContent) => CartContent | Promise<CartContent>,
  ): Promise<StoredCart | null> {
    return withTransaction(pool, async (client) => {
      const cart =
        'userId' in owner
          ? await lockCustomerCart(client, owner.userId)
          : await findOpen(client, owner, true);
      return cart ? writeContent(client, cart, await change(cart)) : null;
    });
  },

  /**
   * Remembers the prices just shown, and the currency of a cart stored before carts kept one,
   * unless the lines changed meanwhile (the version is not bumped: what was shown does not make
   * a checkout in flight stale).
   */
  async saveSeen(db: Queryable, cart: StoredCart, content: CartContent): Promise<void> {
    await db.query(
      `UPDATE carts SET lines = $3, currency = $4
        WHERE id = $1 AND version = $2 AND status = 'OPEN'`,
      [cart.id, cart.version, JSON.stringify(content.lines), content.currency],
    );
  },

  /**
   * A guest cart merged into the customer's: both locked (the guest's first, always, so two
   * merges cannot deadlock), the customer's lines and currency replaced by `merge`'s, the
   * guest's closed. Null when the guest cart is gone. `merge` throwing rolls both back: the
   * guest cart stays.
   */
  merge<T extends CartContent>(
    pool: Pool,
    userId: string,
    tokenHash: string,
    merge: (into: StoredCart, from: StoredCart) => T | Promise<T>,
  ): Promise<{ cart: StoredCart; merged: T } | null> {
    return withTransaction(pool, async (client) => {
      const guest = await findOpen(client, { tokenHash }, true);
      if (!guest) return null;
      const own = await lockCustomerCart(client, userId);
      const merged = await merge(own, guest);
      const cart = await writeContent(client, own, merged);
      await client.query(
        `UPDATE carts SET status = 'MERGED', merged_into = $2, closed_at = now(), updated_at = now()
          WHERE id = $1`,
        [guest.id, own.id],
      );
      return { cart, merged };
    });
  },

  /**
   * Checkout's close, inside the order's transaction: only the version that was priced, and only
   * while open. Otherwise what happened instead: checked out (by which order) or changed.
   */
  async close(
    client: PoolClient,
    cart: Pick<StoredCart, 'id' | 'version'>,
    orderId: string,
  ): Promise<{ closed: true } | { closed: false; status: string; orderId: string | null }> {
    const { rowCount } = await client.query(
      `UPDATE carts SET status = 'CHECKED_OUT', order_id = $3, closed_at = now(), updated_at = now()
        WHERE id = $1 AND version = $2 AND status = 'OPEN'`,
      [cart.id, cart.version, orderId],
    );
    if (rowCount === 1) return { closed: true };
    const { rows } = await client.query<{ status: string; order_id: string | null }>(
      'SELECT status, order_id FROM carts WHERE id = $1',
      [cart.id],
    );
    return { closed: false, status: rows[0]?.status ?? 'GONE', orderId: rows[0]?.order_id ?? null };
  },

  /**
   * Forgets guest carts unchanged for `idleMs` (empty ones for `emptyIdleMs`) and guest carts
   * already merged, a bounded batch per call. Customers' carts stay (a checked-out one names
   * its order).
   */
  async sweepGuests(
    db: Queryable,
    idleMs: number,
    emptyIdleMs: number,
    batch: number,
  ): Promise<number> {
    // Each cart is locked as it is found, and one locked by a guest's change is skipped: a
    // plain subquery would let a cart found idle be filled and committed meanwhile, and the
    // DELETE, which re-checks only `id IN (...)`, would still take it. A cart changed after the
    // statement began is re-checked against the condition when it is locked.
    const { rowCount } = await db.query(
      `DELETE FROM carts WHERE id IN (
         SELECT id FROM carts
          WHERE token_hash IS NOT NULL
            AND (status <> 'OPEN'
                 OR updated_at < now() - make_interval(secs => $1::double precision / 1000)
                 OR (lines = '[]'::jsonb
                     AND updated_at < now() - make_interval(secs => $3::double precision / 1000)))
          LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [idleMs, batch, emptyIdleMs],
    );
    return rowCount ?? 0;
  },
};
