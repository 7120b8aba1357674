import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { testPool } from '@ecom/test-support';
import { runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { cartStore } from '../src/store/cart-store';
import { orderMigrations } from '../src/store/migrations';

/**
 * Migration 010 (a cart's currency kept with it) on a database holding carts written before it:
 * they stay as they were, without a currency, which their first read or change then sets
 * (carts.component.test.ts).
 */
describe('migration 010_cart_currency on carts written before it (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('order_cart_currency_migration');
    pool = testPool(db.url, 2);
    await runMigrations(
      pool,
      orderMigrations.filter((m) => m.id < '010'),
    );
  });

  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  it('adds the column to the carts there, leaving their lines and version as they were', async () => {
    const id = randomUUID();
    const lines = [{ productId: 'p-mug', quantity: 2, seenUnitPriceCents: 1200 }];
    await pool.query(
      `INSERT INTO carts (id, user_id, lines, version) VALUES ($1, 'u-old', $2, 3)`,
      [id, JSON.stringify(lines)],
    );

    expect(await runMigrations(pool, orderMigrations)).toEqual(
      orderMigrations.filter((m) => m.id >= '010').map((m) => m.id),
    );

    const cart = await cartStore.open(pool, { userId: 'u-old' });
    expect(cart).toMatchObject({ id, lines, version: 3, currency: null });
    // Run again (another replica starting): nothing to do.
    expect(await runMigrations(pool, orderMigrations)).toEqual([]);
  });
});
