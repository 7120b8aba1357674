import type { Pool, PoolClient, QueryResult } from 'pg';

/** Statements of an open withTransaction whose results nobody reads, sent with its COMMIT. */
const atCommit = new WeakMap<PoolClient, string[]>();

export interface TransactionOptions {
  /**
   * A statement sent with BEGIN in one round trip; its result is fn's second argument. It goes
   * as a simple query, so it carries no parameters: values in it must be escaped literals
   * (pg's `escapeLiteral`).
   */
  opening?: string;
}

/**
 * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
 * Round trips are what a saga step costs (each one a write and a wake-up on both sides), so
 * BEGIN travels with the `opening` statement and COMMIT with the statements queued by
 * `writeAtCommit`.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient, opened: QueryResult | undefined) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    let opened: QueryResult | undefined;
    if (options.opening) {
      const results = (await client.query(`BEGIN; ${options.opening}`)) as unknown as QueryResult[];
      opened = results[1];
    } else await client.query('BEGIN');
    const queued: string[] = [];
    atCommit.set(client, queued);
    const result = await fn(client, opened);
    atCommit.delete(client);
    // A failing queued statement aborts the transaction: COMMIT is not reached, the catch rolls back.
    await client.query([...queued, 'COMMIT'].join(';\n'));
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    atCommit.delete(client);
    client.release();
  }
}

/**
 * A write nothing in the transaction reads back (an outbox row, say): inside withTransaction it
 * is sent with the COMMIT, in the same round trip, and fails the transaction if it fails;
 * anywhere else it runs now. A simple query: literals only, no parameters.
 */
export async function writeAtCommit(client: PoolClient, statement: string): Promise<void> {
  const queued = atCommit.get(client);
  if (queued) queued.push(statement);
  else await client.query(statement);
}
