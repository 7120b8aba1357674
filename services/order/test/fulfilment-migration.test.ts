import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { testPool } from '@ecom/test-support';
import { sameContent } from '@ecom/common/anchoring';
import { runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { orderMigrations } from '../src/store/migrations';
import { orderSnapshot } from '../src/store/order-record';
import { orderStore } from '../src/store/order-store';

/**
 * Migration 008 (fulfilment per seller, docs/adr/0013) on a database holding orders written
 * before it: what their anchored entries describe must not change, or every such order would
 * verify TAMPERED ("changed without a new entry").
 */
describe('migration 008_line_fulfilment on orders written before it (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;
  const before = orderMigrations.filter((m) => m.id < '008');

  beforeAll(async () => {
    db = await createTestPostgres('order_fulfilment_migration');
    pool = testPool(db.url, 2);
    await runMigrations(pool, before);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  /** An order of two sellers as the service stored it before 008, in `status`. */
  async function legacyOrder(status: 'CONFIRMED' | 'SHIPPED' | 'DELIVERED') {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method, payment_id,
         shipping_address, correlation_id)
       VALUES ($1, 'user-old', $2, 'USD', 4500, 'card', 'pay-old', $3, 'corr-old')`,
      [id, status, JSON.stringify({ name: 'Old', line1: '1 Main St', city: 'X', country: 'US' })],
    );
    await pool.query(
      `INSERT INTO order_items (order_id, line_no, product_id, name, seller_id, quantity,
         unit_price_cents, line_total_cents)
       VALUES ($1, 1, 'p-a', 'A', 'seller-a', 2, 1000, 2000),
              ($1, 2, 'p-b', 'B', 'seller-b', 1, 2500, 2500)`,
      [id],
    );
    const path = ['PENDING', 'PAYMENT_PROCESSING', 'CONFIRMED', 'SHIPPED', 'DELIVERED'];
    const reached = path.slice(0, path.indexOf(status) + 1);
    for (const [i, to] of reached.entries()) {
      await pool.query(
        `INSERT INTO order_status_history (order_id, from_status, to_status, cause_type, cause_id, actor_id, payment_id)
         VALUES ($1, $2, $3, 'request', $4, 'user-old', $5)`,
        [id, i === 0 ? null : reached[i - 1], to, `req-${i}`, i >= 2 ? 'pay-old' : null],
      );
    }
    await pool.query(
      `INSERT INTO order_refunds (refund_id, order_id, payment_id, amount_cents, currency)
       VALUES ($1, $2, 'pay-old', 100, 'USD')`,
      [`r-${id}`, id],
    );
    return id;
  }

  it('leaves the snapshot of every such order exactly as it was, and reads its lines where the order is', async () => {
    const ids = {
      CONFIRMED: await legacyOrder('CONFIRMED'),
      SHIPPED: await legacyOrder('SHIPPED'),
      DELIVERED: await legacyOrder('DELIVERED'),
    };
    const snapshots = new Map<string, unknown>();
    for (const id of Object.values(ids)) snapshots.set(id, await orderSnapshot(pool, id));

    // 008 runs first on these orders (later migrations follow it).
    expect((await runMigrations(pool, orderMigrations))[0]).toBe('008_line_fulfilment');

    for (const [status, id] of Object.entries(ids)) {
      const after = await orderSnapshot(pool, id);
      expect({ status, same: sameContent(after, snapshots.get(id)) }).toEqual({
        status,
        same: true,
      });
      expect(after).toEqual(snapshots.get(id));
      const order = (await orderStore.get(pool, id))!;
      const expected = status === 'CONFIRMED' ? 'UNFULFILLED' : status;
      expect(order.items.map((i) => i.fulfilmentStatus)).toEqual([expected, expected]);
    }
  });

  it('lets orders be PARTIALLY_SHIPPED, with one status check, and lines only SHIPPED or DELIVERED', async () => {
    const id = await legacyOrder('CONFIRMED');
    await pool.query(`UPDATE orders SET status = 'PARTIALLY_SHIPPED' WHERE id = $1`, [id]);
    await expect(
      pool.query(`UPDATE orders SET status = 'NOPE' WHERE id = $1`, [id]),
    ).rejects.toThrow(/orders_status_check/);
    const checks = await pool.query(
      `SELECT conname FROM pg_constraint
        WHERE conrelid = 'orders'::regclass AND contype = 'c'
          AND pg_get_constraintdef(oid) LIKE '%status%'`,
    );
    expect(checks.rows.map((r) => r.conname)).toEqual(['orders_status_check']);
    await expect(
      pool.query(`UPDATE order_items SET fulfilment_status = 'UNFULFILLED' WHERE order_id = $1`, [
        id,
      ]),
    ).rejects.toThrow(/check constraint/);
  });
});
