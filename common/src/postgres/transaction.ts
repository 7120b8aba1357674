import type { Pool, PoolClient, QueryResult } from 'pg';
import { inlineParameters } from './inline';
import type { Statement } from './statement';

/** What an open withTransaction carries besides its statements. */
interface OpenTransaction {
  pool: Pool;
  /** Statements whose results nobody reads, sent with the COMMIT, each with its key if any. */
  queued: Array<{ statement: string; key?: string }>;
  /** Run once the COMMIT has succeeded. */
  committed: Array<() => void>;
  /** Calls of the client's `query` so far: what was read after the last one is still current. */
  sent: number;
}

const open = new WeakMap<PoolClient, OpenTransaction>();

export interface TransactionOptions {
  /**
   * A statement that travels with BEGIN and fn's first statement, in that round trip. It goes
   * as a simple query, so it carries no parameters: values in it must be escaped literals
   * (pg's `escapeLiteral`). `check` sees its result before fn sees the answer to its first
   * statement; when it throws, fn's first statement fails with that error and the
   * transaction is rolled back, whatever fn does with the error.
   */
  opening?: {
    statement: string;
    check(result: QueryResult): void;
    /**
     * The opening as a statement that fails where `check` would throw (a plain INSERT where the
     * statement is an INSERT … ON CONFLICT DO NOTHING), and `refused`, which tells that failure
     * (the error check would throw) from any other (undefined). With it, a transaction whose fn
     * sends nothing goes in one round trip, BEGIN to COMMIT: nothing in it reads the opening's
     * answer, so its refusal has to stop the COMMIT in the server.
     */
    failing?: { statement: string; refused(err: unknown): unknown };
  };
}

/**
 * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
 * Round trips are what a saga step costs (each one a write and a wake-up on both sides), so
 * BEGIN (with the `opening` statement) travels with fn's first statement, written in as
 * escaped literals (inlineParameters) where it has parameters, and COMMIT with the statements
 * queued by `writeAtCommit`. A first statement that cannot be sent that way (a query config,
 * a Buffer parameter) goes after BEGIN, as before.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  const tx: OpenTransaction = { pool, queued: [], committed: [], sent: 0 };
  const begin = new DeferredBegin(client, tx, options.opening);
  try {
    open.set(client, tx);
    const result = await fn(client);
    open.delete(client);
    const commit = [...tx.queued.map((q) => q.statement), 'COMMIT'];
    const failing = options.opening?.failing;
    if (!begin.sent && (!options.opening || failing)) {
      // fn sent nothing: BEGIN (and the opening) goes with the COMMIT, if there is anything to
      // commit. A statement that fails leaves the transaction open and aborted, the rest of the
      // query unrun: the catch rolls back.
      begin.skip();
      if (failing || tx.queued.length > 0) {
        begin.sent = true;
        const head = failing ? ['BEGIN', failing.statement] : ['BEGIN'];
        try {
          await client.query([...head, ...commit].join(';\n'));
        } catch (err) {
          throw failing?.refused(err) ?? err;
        }
      }
    } else {
      if (!begin.sent) await begin.send();
      // An opening's check that failed ends the transaction, even if fn caught its error.
      begin.rethrowFailedCheck();
      // A failing queued statement aborts the transaction: COMMIT is not reached, the catch rolls back.
      await client.query(commit.join(';\n'));
    }
    for (const run of tx.committed) {
      try {
        run();
      } catch {
        // Committed is committed: what runs after it reports its own failures.
      }
    }
    return result;
  } catch (err) {
    if (begin.sent) await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    begin.skip();
    open.delete(client);
    client.release();
  }
}

/**
 * BEGIN held back until the transaction's first statement, which it then prefixes: the
 * client's `query` is wrapped for the transaction, and counts its calls (`statementsSent`).
 */
class DeferredBegin {
  /** BEGIN (and the opening) has gone to the server, or is on its way. */
  sent = false;
  private failedCheck: { error: unknown } | undefined;
  private readonly intercept: (...args: unknown[]) => unknown;

  constructor(
    private readonly client: PoolClient,
    tx: OpenTransaction,
    private readonly opening: TransactionOptions['opening'],
  ) {
    this.intercept = (...args: unknown[]) => {
      tx.sent += 1;
      if (this.sent) return this.query(...args);
      const [text, values, callback] = args;
      const first =
        typeof text === 'string' &&
        callback === undefined &&
        (values === undefined || Array.isArray(values))
          ? inlineParameters(text, (values as unknown[] | undefined) ?? [])
          : null;
      if (first === null) return this.send().then(() => this.query(...args));
      return this.send(first);
    };
    (client as { query: unknown }).query = this.intercept;
  }

  /** Gives `query` back (the prototype's); BEGIN is then sent by whoever needs it. */
  skip(): void {
    const own = this.client as { query?: unknown };
    if (Object.prototype.hasOwnProperty.call(own, 'query') && own.query === this.intercept)
      delete own.query;
  }

  /** Sends BEGIN, the opening and `first` in one simple query; the answer to `first`. */
  async send(first?: string): Promise<unknown> {
    this.sent = true;
    const head = this.opening ? ['BEGIN', this.opening.statement] : ['BEGIN'];
    const sql = [...head, ...(first === undefined ? [] : [first])].join(';\n');
    let answer: QueryResult | QueryResult[];
    try {
      answer = (await this.query(sql)) as QueryResult | QueryResult[];
    } catch (err) {
      if (!this.opening || first === undefined) throw err;
      // The first statement failed, so the opening's answer was never seen (a redelivered
      // event's first write may fail because the first delivery made it): the opening alone
      // again, checked, then the first statement once more, whose own error is then real.
      await this.query('ROLLBACK');
      await this.send();
      return this.query(first);
    }
    const results = Array.isArray(answer) ? answer : [answer];
    if (this.opening) this.check(results[1]!);
    const rest = results.slice(head.length);
    return rest.length === 1 ? rest[0] : rest;
  }

  private check(opened: QueryResult): void {
    try {
      this.opening!.check(opened);
    } catch (error) {
      this.failedCheck = { error };
      throw error;
    }
  }

  rethrowFailedCheck(): void {
    if (this.failedCheck) throw this.failedCheck.error;
  }

  /** The prototype's query (a spy on it included), on this client. */
  private query(...args: unknown[]): Promise<unknown> {
    const proto = Object.getPrototypeOf(this.client) as { query: (...a: unknown[]) => unknown };
    return proto.query.apply(this.client, args) as Promise<unknown>;
  }
}

/**
 * A write nothing in the transaction reads back (an outbox row, say): inside withTransaction it
 * is sent with the COMMIT, in the same round trip, and fails the transaction if it fails;
 * anywhere else it runs now. It goes in a simple query: a string is sent as written (literals
 * only), a Statement's values are written in as escaped literals (inlineParameters), and one
 * whose values cannot be (a Buffer) is sent now. A `key` names what it writes, for a later read
 * in the same transaction that must see it (sendQueuedWrites).
 */
export async function writeAtCommit(
  client: PoolClient,
  statement: string | Statement,
  key?: string,
): Promise<void> {
  const tx = open.get(client);
  if (typeof statement !== 'string') {
    const values = statement.values ?? [];
    const inlined = tx ? inlineParameters(statement.text, values) : null;
    if (inlined === null) {
      // Sent now, after what was queued before it: the writes keep their order.
      if (tx && tx.queued.length > 0)
        await client.query(
          tx.queued
            .splice(0)
            .map((q) => q.statement)
            .join(';\n'),
        );
      await client.query(statement.text, [...values]);
      return;
    }
    statement = inlined;
  }
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

/**
 * How many times the withTransaction `client`'s `query` has been called so far (undefined
 * outside one): equal counts mean nothing was sent in between, so a read made at the first
 * still shows what the transaction wrote.
 */
export function statementsSent(client: PoolClient): number | undefined {
  return open.get(client)?.sent;
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
