import { Pool } from 'pg';
import type { Logger } from '../logging/logger';
import { PreparingClient, withoutPreparedStatements } from './prepared';

/**
 * A pg pool with bounded waits, so a dead database fails requests instead of hanging them.
 * A connection that dies (database restarted or gone) is an 'error' event on its client, and
 * on the pool when the client was idle; unheard, either would end the process. Heard here:
 * the query in flight fails (503 for a request, a retry for an event), the pool drops the
 * client, and work resumes when the database is back.
 */
export function createPgPool(
  connectionString: string,
  max = 10,
  logger?: Logger,
  options: { preparedStatements?: boolean } = {},
): Pool {
  const pool = new Pool({
    connectionString,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30000,
    // Statements sent alone with values are named, so parsed and planned once (prepared.ts).
    ...(options.preparedStatements === false ? {} : { Client: PreparingClient }),
  });
  const lost = (err: Error) => logger?.warn('PostgreSQL connection lost', { error: err.message });
  pool.on('connect', (client) => client.on('error', lost));
  // Statements sent in simple queries are written out instead of prepared (prepared.ts).
  if (options.preparedStatements === false)
    pool.on('connect', (client) => withoutPreparedStatements(client));
  // The client's own listener has logged it already.
  pool.on('error', () => undefined);
  return pool;
}

export async function pgHealth(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
