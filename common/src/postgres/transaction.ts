import { DatabaseError, type Pool, type PoolClient, type QueryResult } from 'pg';
import { textForms } from './inline';
import {
  isMendedPreparedFailure,
  onceMoreIfMended,
  sendTogether,
  simpleText,
  PreparedQuery,
} from './prepared';
import type { Statement } from './statement';

/** What an open withTransaction carries besides its statements. */
interface OpenTransaction {
  pool: Pool;
  /** Statements whose results nobody reads, sent with the COMMIT, each with its key if any. */
  queued: Array<{ statement: string | Statement; key?: string }>;
  /** Run once the COMMIT has succeeded. */
  committed: Array<() => void>;
  /** Calls of the client's `query` so far: what was read after the last one is still current. */
  sent: number;
}

const open = new WeakMap<PoolClient, OpenTransaction>();

export interface TransactionOptions {
  /**
   * A statement that travels with BEGIN and fn's first statement, in that round trip, in a
   * simple query: a string is sent as written (escaped literals only), a Statement as EXECUTE
   * of its prepared form or written out (simpleText). `check` sees its result before fn sees
   * the answer to its first statement; when it throws, fn's first statement fails with that
   * error and the transaction is rolled back, whatever fn does with the error.
   */
  opening?: {
    statement: string | Statement;
    check(result: QueryResult): void;
    /**
     * The opening as a statement that fails where `check` would throw (a plain INSERT where the
     * statement is an INSERT … ON CONFLICT DO NOTHING), and `refused`, which tells that failure
     * (the error check would throw) from any other (undefined). With it, a transaction whose fn
     * sends nothing goes in one round trip, BEGIN to COMMIT: nothing in it reads the opening's
     * answer, so its refusal has to stop the COMMIT in the server.
     */
    failing?: { statement: string | Statement; refused(err: unknown): unknown };
  };
}

/**
 * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws.
 * Round trips are what a saga step costs (each one a write and a wake-up on both sides), so
 * BEGIN (with the `opening` statement) travels with fn's first statement, and COMMIT with the
 * statements queued by `writeAtCommit`, in simple queries: a statement with values goes as
 * EXECUTE of its prepared form, planned once per connection, or written in as escaped
 * literals (simpleText). A first statement that cannot be sent that way (a query config, a
 * Buffer parameter) goes after BEGIN, as before.
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
        const whole = [...(failing ? ['BEGIN', failing.statement] : ['BEGIN']), ...commit];
        try {
          // The whole transaction is in this query: after a prepared statement that could not
          // serve, it goes once more.
          await onceMoreIfMended(
            () => sendTogether(client, whole),
            () => client.query('ROLLBACK'),
          );
        } catch (err) {
          throw failing?.refused(err) ?? err;
        }
      }
    } else {
      if (!begin.sent) await begin.send();
      // An opening's check that failed ends the transaction, even if fn caught its error.
      begin.rethrowFailedCheck();
      // A failing queued statement aborts the transaction: COMMIT is not reached, the catch rolls back.
      await sendTogether(client, commit);
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
        (values === undefined || Array.isArray(values)) &&
        textForms((values as unknown[] | undefined) ?? []) !== null
          ? { text, values: (values as unknown[] | undefined) ?? [] }
          : null;
      if (first === null) return this.send().then(() => this.query(...args));
      return this.send({ statement: first, args });
    };
    (client as { query: unknown }).query = this.intercept;
  }

  /** Gives `query` back (the prototype's); BEGIN is then sent by whoever needs it. */
  skip(): void {
    const own = this.client as { query?: unknown };
    if (Object.prototype.hasOwnProperty.call(own, 'query') && own.query === this.intercept)
      delete own.query;
  }

  /**
   * Sends BEGIN, the opening and `first` in one simple query; the answer to `first`. `first`
   * has a simple text (the interceptor checked), unless its text, without values, has
   * parameters: then BEGIN and the opening go first, and it after them.
   */
  async send(first?: { statement: Statement; args: unknown[] }, mended = false): Promise<unknown> {
    this.sent = true;
    const head: Array<string | Statement> = this.opening
      ? ['BEGIN', this.opening.statement]
      : ['BEGIN'];
    const prepared = new PreparedQuery(this.client);
    const texts = [...head, ...(first ? [first.statement] : [])].map((st) =>
      simpleText(prepared, st),
    );
    if (texts.some((t) => t === null)) {
      if (!first || texts.slice(0, head.length).some((t) => t === null))
        throw new Error('withTransaction: the opening has no text form');
      // A text with $n but no values (a PREPARE's): BEGIN alone before it, as it is.
      await this.send();
      return this.query(...first.args);
    }
    let results: QueryResult[];
    try {
      results = await prepared.sent(this.query(prepared.query(texts as string[])));
    } catch (err) {
      if (!mended && err instanceof DatabaseError && isMendedPreparedFailure(err)) {
        // A prepared statement could not serve (deallocated, its table changed under `SELECT
        // *`): nothing of the transaction is left to keep, so it starts again, the texts
        // prepared anew (prepared.ts).
        await this.query('ROLLBACK');
        return this.send(first, true);
      }
      if (!this.opening || !first) throw err;
      // The first statement failed, so the opening's answer was never seen (a redelivered
      // event's first write may fail because the first delivery made it): the opening alone
      // again, checked, then the first statement once more, whose own error is then real.
      await this.query('ROLLBACK');
      await this.send();
      return this.query(...first.args);
    }
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
 * only), a Statement as EXECUTE of its prepared form or with its values written in
 * (simpleText), and one whose values cannot be (a Buffer) is sent now. A `key` names what it
 * writes, for a later read in the same transaction that must see it (sendQueuedWrites).
 */
export async function writeAtCommit(
  client: PoolClient,
  statement: string | Statement,
  key?: string,
): Promise<void> {
  const tx = open.get(client);
  if (typeof statement !== 'string') {
    const values = statement.values ?? [];
    // The values as they are now: the statement's text is built when it goes.
    const forms = tx && textForms(values);
    if (!forms) {
      // Sent now, after what was queued before it: the writes keep their order.
      if (tx && tx.queued.length > 0)
        await sendTogether(
          client,
          tx.queued.splice(0).map((q) => q.statement),
        );
      await client.query(statement.text, [...values]);
      return;
    }
    statement = { text: statement.text, values: forms };
  }
  if (tx) tx.queued.push({ statement, key });
  else await client.query(statement as string);
}

/**
 * Sends what writeAtCommit queued now, still inside the transaction, when something was queued
 * under `key`: a read about to look at what those writes wrote then sees it. Order is kept.
 */
export async function sendQueuedWrites(client: PoolClient, key: string): Promise<void> {
  const tx = open.get(client);
  if (!tx?.queued.some((q) => q.key === key)) return;
  await sendTogether(
    client,
    tx.queued.splice(0).map((q) => q.statement),
  );
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
