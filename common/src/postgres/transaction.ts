import type { Pool, PoolClient, QueryResult } from 'pg';

/** What an open withTransaction carries besides its statements. */
interface OpenTransaction {
  pool: Pool;
  /** Statements whose results nobody reads, sent with the COMMIT, each with its key if any. */
  queued: Array<{ statement: string; key?: string }>;
  /** Run once the COMMIT has succeeded. */
  committed: Array<() => void>;
}

const open = new WeakMap<PoolClient, OpenTransaction>();

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
    const tx: OpenTransaction = { pool, queued: [], committed: [] };
    open.set(client, tx);
    const result = await fn(client, opened);
    open.delete(client);
    // A failing queued statement aborts the transaction: COMMIT is not reached, the catch rolls back.
    await client.query([...tx.queued.map((q) => q.statement), 'COMMIT'].join(';\n'));
    for (const run of tx.committed) {
      try {
        run();
      } catch {
        // Committed is committed: what runs after it reports its own failures.
      }
    }
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    open.delete(client);
    client.release();
  }
}

/**
 * A write nothing in the transaction reads back (an outbox row, say): inside withTransaction it
 * is sent with the COMMIT, in the same round trip, and fails the transaction if it fails;
 * anywhere else it runs now. A simple query: literals only, no parameters. A `key` names what
 * it writes, for a later read in the same transaction that must see it (sendQueuedWrites).
 */
export async function writeAtCommit(
  client: PoolClient,
  statement: string,
  key?: string,
): Promise<void> {
  const tx = open.get(client);
  if (tx) tx.queued.push({ statement, key });
  else await client.query(statement);
}

/**
 * Sends what writeAtCommit queued now, still inside the transaction, when something was queued
 * under `key`: a read about to look at what those writes wrote then sees it. Order is kept.
 */
export async function sendQueuedWrites(client: PoolClient, key: string): Promise<void> {
  const tx = open.get(client);
  if (!tx?.queued.some((q) => q.key === key)) return;
  const queued = tx.queued.splice(0);
  await client.query(queued.map((q) => q.statement).join(';\n'));
}

/** The pool of the withTransaction `client` is in, or undefined outside one. */
export function transactionPool(client: PoolClient): Pool | undefined {
  return open.get(client)?.pool;
}

/**
 * Runs `fn` (synchronously, errors ignored: it reports its own) right after the COMMIT of the
 * withTransaction `client` is in, never after a rollback. False outside withTransaction.
 */
export function afterCommit(client: PoolClient, fn: () => void): boolean {
  const tx = open.get(client);
  if (!tx) return false;
  tx.committed.push(fn);
  return true;
}
