import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { isCheckViolation, runMigrations } from '@ecom/common/postgres';
import {
  createTestPostgres,
  describeIfServer,
  untilWaitingForLock,
  type TestPostgres,
  testPool,
} from '@ecom/test-support';
import { TRANSITIONS } from '../src/domain/state-machine';
import { orderMigrations } from '../src/store/migrations';
import { orderStore } from '../src/store/order-store';

/**
 * An order request already past the gateway when its account is deleted: order's handler of
 * user.deleted closes the account and lists its open orders to cancel; the order's insert
 * must either be on that list or be refused. Each race is held at its worst point with two
 * connections of real PostgreSQL.
 */
// Two sessions waiting on each other's locks: the PGlite stand-in runs one session at a time.
describeIfServer('postgres', 'closed accounts (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('order_closed_accounts');
    pool = testPool(db.url, 4);
    await runMigrations(pool, orderMigrations);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  const insertOrder = (client: PoolClient, userId: string) =>
    orderStore.insert(
      client,
      {
        id: randomUUID(),
        userId,
        priced: {
          currency: 'USD',
          totalCents: 500,
          lines: [
            {
              lineNo: 1,
              productId: 'p-1',
              name: 'P',
              sellerId: null,
              quantity: 1,
              unitPriceCents: 500,
              lineTotalCents: 500,
            },
          ],
        },
        paymentMethod: 'card',
        shippingAddress: { name: 'A', line1: 'S 1', city: 'C', postalCode: '1', country: 'US' },
        correlationId: 'corr',
      },
      { type: 'request', requestId: 'req', userId },
    );

  /** What the user.deleted handler does in its transaction: close, then list the open orders. */
  const closeAndList = async (client: PoolClient, userId: string) => {
    await orderStore.closeAccount(client, userId);
    return orderStore.ordersOfUser(client, userId, TRANSITIONS.cancel.from);
  };

  // Every connection a test opens is given back after it, so a failed race ends its test
  // instead of holding its locks (and the pool) for the rest of the file.
  const open: PoolClient[] = [];
  afterEach(async () => {
    for (const client of open.splice(0)) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  });

  const begin = async () => {
    const client = await pool.connect();
    open.push(client);
    await client.query('BEGIN');
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
    return { client, pid };
  };

  const refusal = (err: unknown) => isCheckViolation(err, 'orders_account_open');

  it('refuses an order for a closed account and keeps nothing of it', async () => {
    const user = `u-${randomUUID()}`;
    const closer = await begin();
    await closeAndList(closer.client, user);
    await closer.client.query('COMMIT');

    const placer = await begin();
    const failed = await insertOrder(placer.client, user).catch((err: unknown) => err);
    expect(refusal(failed)).toBe(true);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [
      user,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('an order inserted but not yet committed when the account closes is on the list to cancel', async () => {
    const user = `u-${randomUUID()}`;
    const placer = await begin();
    const placed = await insertOrder(placer.client, user);
    const closer = await begin();
    const listing = closeAndList(closer.client, user);
    await untilWaitingForLock(pool, closer.pid);
    await placer.client.query('COMMIT');
    expect(await listing).toEqual([placed.id]);
    await closer.client.query('COMMIT');
  });

  it('an order inserted while the account is closing waits, then is refused', async () => {
    const user = `u-${randomUUID()}`;
    const closer = await begin();
    expect(await closeAndList(closer.client, user)).toEqual([]);
    const placer = await begin();
    const inserting = insertOrder(placer.client, user).catch((err: unknown) => err);
    await untilWaitingForLock(pool, placer.pid);
    await closer.client.query('COMMIT');
    expect(refusal(await inserting)).toBe(true);
  });

  it('another account places orders while one closes', async () => {
    const closing = `u-${randomUUID()}`;
    const other = `u-${randomUUID()}`;
    const closer = await begin();
    await closeAndList(closer.client, closing);
    const placer = await begin();
    await expect(insertOrder(placer.client, other)).resolves.toMatchObject({ userId: other });
    await placer.client.query('COMMIT');
    await closer.client.query('COMMIT');
  });
});
