import { Pool } from 'pg';

/** A pg pool with bounded waits, so a dead database fails requests instead of hanging them. */
export function createPgPool(connectionString: string, max = 10): Pool {
  return new Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
  });
}

export async function pgHealth(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
