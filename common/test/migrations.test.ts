import { createTestPostgres } from '@ecom/infrastructure/testing';
import { createPgPool, runMigrations, withTransaction } from '../src/postgres';
import type { Pool } from 'pg';

describe('PostgreSQL helpers (real database)', () => {
  let db: Awaited<ReturnType<typeof createTestPostgres>>;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('common-migrations');
    pool = createPgPool(db.url, 5);
  });
  afterAll(async () => {
    await pool.end();
    await db.cleanup();
  });

  const migrations = [
    { id: '002_add_column', sql: 'ALTER TABLE widgets ADD COLUMN colour text' },
    { id: '001_create', sql: 'CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL)' },
  ];

  it('applies migrations once, in id order, even when several instances start together', async () => {
    const results = await Promise.all([
      runMigrations(pool, migrations),
      runMigrations(pool, migrations),
    ]);
    expect(results.flat().sort()).toEqual(['001_create', '002_add_column']);
    expect(await runMigrations(pool, migrations)).toEqual([]);
    const { rows } = await pool.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'widgets' ORDER BY 1",
    );
    expect(rows.map((r) => r.column_name)).toEqual(['colour', 'id', 'name']);
  });

  it('rolls a failing migration back and names it', async () => {
    const bad = [
      ...migrations,
      { id: '003_bad', sql: 'CREATE TABLE gadgets (id int); SELECT nope' },
    ];
    await expect(runMigrations(pool, bad)).rejects.toThrow(/migration 003_bad failed/);
    const { rows } = await pool.query("SELECT to_regclass('gadgets') AS t");
    expect(rows[0].t).toBeNull();
  });

  it('withTransaction commits on success and rolls back on error', async () => {
    await withTransaction(pool, (c) => c.query("INSERT INTO widgets (name) VALUES ('kept')"));
    await expect(
      withTransaction(pool, async (c) => {
        await c.query("INSERT INTO widgets (name) VALUES ('lost')");
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const { rows } = await pool.query('SELECT name FROM widgets ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(['kept']);
  });
});
