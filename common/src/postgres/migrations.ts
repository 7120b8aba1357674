import { createPgPool } from './pool';
import type { Pool } from 'pg';

/** A versioned schema change. Ids sort lexically in the order they must run ("001_init"). */
export interface Migration {
  id: string;
  sql: string;
}

// Any constant works; it only has to be the same for every instance of every service.
const MIGRATION_LOCK_KEY = 724_311_902;

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its own
 * transaction, under an advisory lock so several instances starting together do not race.
 * Returns the ids applied now.
 */
export async function runMigrations(pool: Pool, migrations: Migration[]): Promise<string[]> {
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error('duplicate migration id');
  const ordered = [...migrations].sort((a, b) => a.id.localeCompare(b.id));
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         id text PRIMARY KEY,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ id: string }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((r) => r.id));
    for (const migration of ordered) {
      if (done.has(migration.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
        await client.query('COMMIT');
        applied.push(migration.id);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${migration.id} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    await client
      .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      .catch(() => undefined);
    client.release();
  }
  return applied;
}

/**
 * A service's `migrate` command: applies its pending migrations to DATABASE_URL (or the
 * default) and exits 0, or prints one line and exits 1.
 */
export async function migrateCommand(
  database: string,
  migrations: Migration[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const url = env.DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/${database}`;
  const pool = createPgPool(url, 1);
  try {
    const applied = await runMigrations(pool, migrations);
    process.stdout.write(
      applied.length ? `applied: ${applied.join(', ')}\n` : `${database} is up to date\n`,
    );
  } catch (err) {
    process.stderr.write(`migration failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    await pool.end();
  }
}
