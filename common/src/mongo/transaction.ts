import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientSession, Connection } from 'mongoose';

/** The transaction a callback of `withMongoTransaction` runs in. */
export interface MongoTransaction {
  /** The connection it belongs to. */
  readonly connection: Connection;
  /** Its session; mongoose operations on `connection` inside the callback use it on their own. */
  readonly session: ClientSession;
  /**
   * Runs `fn` once the transaction has committed (never after an abort or for an attempt that
   * was retried). Meant for side effects outside MongoDB, such as sending an outbox row now;
   * `fn` handles its own errors (one that throws is ignored: the commit stands).
   */
  afterCommit(fn: () => unknown): void;
}

const ambient = new AsyncLocalStorage<MongoTransaction>();

/** The transaction the caller runs inside on `connection`, if any (see `withMongoTransaction`). */
export function currentMongoTransaction(connection: Connection): MongoTransaction | undefined {
  const tx = ambient.getStore();
  return tx && tx.connection === connection ? tx : undefined;
}

/**
 * Runs `fn` in one multi-document transaction on `connection` and commits it: every mongoose
 * operation on the connection inside `fn` (models and queries; raw `connection.collection()`
 * calls need `{ session: tx.session }`) and every outbox row it publishes commit together, or
 * nothing does. Built on mongoose's `connection.transaction()`, so the driver's
 * `withTransaction` retries the whole callback on a `TransientTransactionError` (a write
 * conflict) and retries the commit on `UnknownTransactionCommitResult`: `fn` may run more than
 * once and must only change things through the transaction (or through `tx.afterCommit`).
 * Needs transactions: a replica set (compose runs a one-member one), mongos, or the stand-in.
 * A call inside another's callback on the same connection joins the outer transaction.
 */
export async function withMongoTransaction<T>(
  connection: Connection,
  fn: (tx: MongoTransaction) => Promise<T>,
): Promise<T> {
  const outer = currentMongoTransaction(connection);
  if (outer) return fn(outer);
  enableSessionPropagation(connection);
  let callbacks: Array<() => unknown> = [];
  const result = await connection.transaction((session) => {
    // A retried attempt starts over: what the failed one registered never happened.
    callbacks = [];
    const tx: MongoTransaction = {
      connection,
      session,
      afterCommit: (cb) => void callbacks.push(cb),
    };
    return ambient.run(tx, () => fn(tx));
  });
  // Started in order, awaited together: each may wait on its own (a send waits for the bus at
  // most a bounded time), and those times must not add up.
  const effects = callbacks.map(async (cb) => {
    try {
      await cb();
    } catch {
      // The transaction committed; an after-commit effect reports its own failures.
    }
  });
  await Promise.all(effects);
  return result;
}

/**
 * mongoose passes the transaction's session to every operation inside `connection.transaction()`
 * when its `transactionAsyncLocalStorage` option is on (per mongoose instance; harmless outside
 * transactions).
 */
function enableSessionPropagation(connection: Connection): void {
  const base = connection.base as Connection['base'] & { transactionAsyncLocalStorage?: unknown };
  if (!base.transactionAsyncLocalStorage) base.set('transactionAsyncLocalStorage', true);
}
