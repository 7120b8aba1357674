import { createHash } from 'node:crypto';
import pg, { DatabaseError, escapeIdentifier, type QueryResult } from 'pg';
import { inlineParameters, literalsOf } from './inline';
import type { Statement } from './statement';

/**
 * Statements PostgreSQL parses and plans once per connection, although they travel in simple
 * queries with others (BEGIN, a lock, reads). A simple query carries no parameters, so such a
 * statement used to be written out with its values as literals and planned on every call: for
 * the saga's anchored writes (the move with its history row, the record's snapshot with its
 * lines as JSON, its chain) planning took more of the server's CPU than running them. Here
 * the statement is `PREPARE`d on a connection the first time it goes there, in the same query,
 * and is then run as `EXECUTE name(literals…)`: after five runs PostgreSQL keeps a generic plan
 * when it costs no more than the custom ones did (plan_cache_mode = auto).
 *
 * A PREPARE is not undone by a rollback. A query's PREPAREs go at its head: when it fails with
 * an error only a statement that ran can raise (a duplicate key), they all ran; after any other
 * failure whether a name exists is unknown, so the next PREPARE of that text takes a new name
 * (the old one, if it exists, stays unused until the connection closes). When a table's
 * columns change under a prepared `SELECT *` or `RETURNING *`, PostgreSQL refuses to run it
 * ("cached plan must not change result type"): that query fails, and the texts it ran are
 * prepared under new names. Names are per process
 * and per text; a process that prepares more than MAX_TEXTS texts (a text with its values
 * written in, by mistake) writes the others out as before. A pool created with
 * `preparedStatements: false` (DATABASE_PREPARED_STATEMENTS=false) writes every statement out:
 * prepared statements need sessions of the connection's own, which PGlite (one session for
 * all) and PgBouncer in transaction mode do not give.
 */

const MAX_TEXTS = 256;

/** "cached plan must not change result type" (feature_not_supported). */
const STALE_RESULT_TYPE = '0A000';
const STALE_MESSAGE = 'cached plan must not change result type';
/** "prepared statement … already exists" (duplicate_prepared_statement). */
const DUPLICATE_NAME = '42P05';
/** "prepared statement … does not exist" (invalid_sql_statement_name). */
const MISSING_NAME = '26000';

/**
 * Whether `err` is one `PreparedQuery.sent` has mended: the same statements, built anew,
 * then go (prepared under new names, or written out).
 */
export function isMendedPreparedFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === MISSING_NAME ||
    code === DUPLICATE_NAME ||
    (code === STALE_RESULT_TYPE &&
      String((err as { message?: unknown }).message).includes(STALE_MESSAGE))
  );
}

/**
 * Runs `send`; when a prepared statement of it could not serve (isMendedPreparedFailure: the
 * texts are mended by then), runs `undo` (a rollback of what the failure aborted) and `send`
 * once more, its texts built anew. Any other error, or a second failure, stands.
 */
export async function onceMoreIfMended<T>(
  send: () => Promise<T>,
  undo: () => Promise<unknown>,
): Promise<T> {
  try {
    return await send();
  } catch (err) {
    if (!(err instanceof DatabaseError) || !isMendedPreparedFailure(err)) throw err;
    await undo();
    return send();
  }
}

/**
 * The name of each text this process prepares: `ecom_` and the start of the text's SHA-256, so
 * that a name means one text in every process (PGlite's one session is shared by all its
 * connections, and by every process connected to it).
 */
const names = new Map<string, string>();

/**
 * The text a name given here stands for (`ecom_…` or `ecomq_…`, with or without its retry
 * suffix), or undefined: for reading a statement log, and for tests.
 */
export function preparedStatementText(name: string): string | undefined {
  const base = name.replace(/_\d+$/, '');
  for (const registry of [names, protocolNames])
    for (const [text, given] of registry) if (given === base) return text;
  return undefined;
}

/** Connections that write their statements out (`DATABASE_PREPARED_STATEMENTS=false`). */
const writtenOut = new WeakSet<object>();

/**
 * Makes `connection` write every statement out with its values as literals, as before this
 * module: for a server whose sessions are not the connection's own (the PGlite stand-in,
 * PgBouncer in transaction mode).
 */
export function withoutPreparedStatements(connection: object): void {
  writtenOut.add(connection);
}

/**
 * Per connection: the names prepared there (with their texts' base names), and how many times a
 * text had to take a new name.
 */
interface ConnectionState {
  ready: Map<string, string>;
  retries: Map<string, number>;
}
const connections = new WeakMap<object, ConnectionState>();

function nameOf(text: string): string | null {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_TEXTS) return null;
    name = `ecom_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * The prepared forms of the statements of one simple query on one connection: `sql` gives each
 * statement's text, `sent` takes the query's answer and settles what it says of the PREPAREs.
 */
export class PreparedQuery {
  private readonly state: ConnectionState;
  private readonly preparing: Array<{ base: string; name: string; sql: string }> = [];
  private readonly executing: string[] = [];

  private readonly off: boolean;

  constructor(private readonly connection: object) {
    this.off = writtenOut.has(connection);
    let state = connections.get(connection);
    if (!state) {
      state = { ready: new Map(), retries: new Map() };
      connections.set(connection, state);
    }
    this.state = state;
  }

  /**
   * `EXECUTE` of the statement with its values as escaped literals (pg's text form of each, as
   * inlineParameters writes them); its `PREPARE`, when the connection does not have it yet,
   * goes at the head of the query (`query`). Null when a value has no text form (a Buffer), too
   * many texts are prepared or the connection does not prepare: the caller writes the
   * statement out instead.
   */
  sql(statement: Statement): string | null {
    if (this.off) return null;
    const literals = literalsOf(statement.values ?? []);
    const base = literals && nameOf(statement.text);
    if (!literals || !base) return null;
    const retries = this.state.retries.get(base);
    const name = escapeIdentifier(retries ? `${base}_${retries}` : base);
    const execute =
      literals.length > 0 ? `EXECUTE ${name}(${literals.join(', ')})` : `EXECUTE ${name}`;
    this.executing.push(base);
    if (!this.state.ready.has(name) && !this.preparing.some((p) => p.name === name))
      this.preparing.push({ base, name, sql: `PREPARE ${name} AS ${statement.text}` });
    return execute;
  }

  /**
   * The simple query of `texts` (built by `sql`, or written out), after the PREPAREs they need:
   * those come first, so that when the query fails in a statement that ran (a duplicate key),
   * they are known to have run.
   */
  query(texts: readonly string[]): string {
    return [...this.preparing.map((p) => p.sql), ...texts].join(';\n');
  }

  /**
   * The answer of the query (`query`), without the results of the PREPAREs at its head, so that
   * every other statement's result keeps its place. Its PREPAREs ran if it succeeded, or if it
   * failed with an error only a statement that ran can raise (a data exception, a constraint's);
   * after any other failure they may or may not have, and their texts take new names.
   */
  async sent(query: Promise<unknown>): Promise<QueryResult[]> {
    const preparing = this.preparing.splice(0);
    const executing = this.executing.splice(0);
    let answer: unknown;
    try {
      answer = await query;
    } catch (err) {
      const { code, message } = err as { code?: unknown; message?: unknown };
      if (err instanceof DatabaseError && /^2[23]/.test(String(code))) {
        // A PREPARE analyses its text without running it: the query failed past them.
        for (const { name, base } of preparing) this.state.ready.set(name, base);
        throw err;
      }
      const renamed = new Set(preparing.map((p) => p.base));
      if (
        code === MISSING_NAME ||
        (code === STALE_RESULT_TYPE && String(message).includes(STALE_MESSAGE))
      ) {
        // Deallocated under us (DISCARD ALL), or a table's columns changed under a statement
        // that returns `*` (a migration of a newer replica), whose plan cannot serve again:
        // every text of the query is prepared anew, under a new name. A statement gone means
        // others may be gone too: every name of the connection is given up, its text prepared
        // under a new one before its next use (a write queued for the COMMIT could not be
        // mended after it failed).
        for (const base of executing) renamed.add(base);
        if (code === MISSING_NAME) {
          for (const base of this.state.ready.values()) renamed.add(base);
          this.state.ready.clear();
        }
      } else if (code === DUPLICATE_NAME) {
        // A name this connection never prepared already exists: the session is not the
        // connection's own (PGlite without DATABASE_PREPARED_STATEMENTS=false). From now on
        // the connection writes its statements out.
        writtenOut.add(this.connection);
      }
      for (const base of renamed)
        this.state.retries.set(base, (this.state.retries.get(base) ?? 0) + 1);
      throw err;
    }
    for (const { name, base } of preparing) this.state.ready.set(name, base);
    const results = (Array.isArray(answer) ? answer : [answer]) as QueryResult[];
    return results.slice(preparing.length);
  }
}

/**
 * A statement's text for a simple query: a string as it is (escaped literals only); a Statement
 * with values as EXECUTE of its form prepared on the connection, else written out with its
 * values as escaped literals (inlineParameters); null when neither can be (a Buffer value).
 */
export function simpleText(prepared: PreparedQuery, statement: string | Statement): string | null {
  if (typeof statement === 'string') return statement;
  const values = statement.values ?? [];
  if (values.length === 0) return inlineParameters(statement.text, values);
  return prepared.sql(statement) ?? inlineParameters(statement.text, values);
}

/**
 * Sends `statements` in one simple query on `client`, their texts built right before they go
 * (what they assume the connection has prepared then still holds); the answer without the
 * PREPAREs' results. Each must have a simple text (simpleText), or it throws before sending.
 */
export function sendTogether(
  client: { query(sql: string): Promise<unknown> },
  statements: Array<string | Statement>,
): Promise<QueryResult[]> {
  const prepared = new PreparedQuery(client);
  const texts = statements.map((st) => simpleText(prepared, st));
  if (texts.some((t) => t === null))
    return Promise.reject(new Error('a statement has no text form'));
  return prepared.sent(client.query(prepared.query(texts as string[])));
}

/**
 * Statements sent alone with values (the extended protocol: a store's read, the relay's marks,
 * the notification sender's steps) are named too, so PostgreSQL parses them once per connection
 * and plans them once it keeps a generic plan, as JDBC does past its prepareThreshold: pg then
 * sends Bind and Execute only, in the same round trip as before. A text is named from its
 * second use in the process (one-off texts stay unnamed), up to MAX_TEXTS texts of its own; its
 * name is `ecomq_` and the start of its SHA-256, apart from the SQL-level PREPAREs above, which
 * share the session's namespace. Texts sent without values, or with a query config, go as they
 * are.
 */
const protocolNames = new Map<string, string>();
/** Texts sent alone once so far, waiting for a second use (cleared when it grows large). */
const seenOnce = new Set<string>();
const SEEN_ONCE_MAX = 1024;
/** Per connection: names a stale plan or a deallocation made it give up, by text. */
const protocolRetries = new WeakMap<object, Map<string, number>>();

function protocolNameOf(connection: object, text: string): string | null {
  let base = protocolNames.get(text);
  if (base === undefined) {
    if (!seenOnce.has(text)) {
      if (seenOnce.size >= SEEN_ONCE_MAX) seenOnce.clear();
      seenOnce.add(text);
      return null;
    }
    if (protocolNames.size >= MAX_TEXTS) return null;
    seenOnce.delete(text);
    base = `ecomq_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    protocolNames.set(text, base);
  }
  const retries = protocolRetries.get(connection)?.get(text);
  return retries ? `${base}_${retries}` : base;
}

/**
 * After a named statement failed: a stale plan (a table's columns changed under `SELECT *`) or a
 * name taken already gives the text a new name on this connection; statements deallocated under
 * pg (DISCARD ALL) are parsed again; pg's own failure (a value it cannot send) gives the text a
 * new name too. True when the statement never ran and can be sent again now.
 */
function mendNamed(client: object, text: string, name: string, err: unknown): boolean {
  const renamed = () => {
    let retries = protocolRetries.get(client);
    if (!retries) protocolRetries.set(client, (retries = new Map()));
    retries.set(text, (retries.get(text) ?? 0) + 1);
  };
  if (!(err instanceof DatabaseError)) {
    // pg's own failure (a value it cannot serialise): it closed the statement it had just
    // parsed, yet lists it as parsed. The text takes a new name; the statement did not run.
    renamed();
    return false;
  }
  if (!isMendedPreparedFailure(err)) return false;
  const { code } = err as { code?: unknown };
  const parsed = (client as { connection?: { parsedStatements?: Record<string, unknown> } })
    .connection?.parsedStatements;
  if (code === MISSING_NAME) {
    // The session's statements were dropped (DISCARD ALL): every name is parsed again.
    if (parsed) for (const key of Object.keys(parsed)) delete parsed[key];
  } else renamed();
  return true;
}

/** "current transaction is aborted" (in_failed_sql_transaction). */
const ABORTED = '25P02';

type QueryCallback = (err: Error | null, result?: unknown) => void;

/**
 * pg's Client, naming every text it sends alone with values (see protocolNameOf). A named
 * statement that failed because its plan went stale or it was deallocated is mended and sent
 * once more: it never ran. Inside a transaction the failure has aborted it, and the caller sees
 * the first error.
 */
export class PreparingClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values, callback] = args;
    const plain = () =>
      (pg.Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args) as never;
    if (
      typeof text !== 'string' ||
      !Array.isArray(values) ||
      values.length === 0 ||
      (callback !== undefined && typeof callback !== 'function') ||
      writtenOut.has(this)
    )
      return plain();
    const name = protocolNameOf(this, text);
    if (name === null) return plain();
    const send = (as: string) =>
      (pg.Client.prototype.query as (c: unknown) => Promise<unknown>).call(this, {
        name: as,
        text,
        values,
      });
    const answer = send(name).catch((err: unknown) => {
      if (!mendNamed(this, text, name, err)) throw err;
      const again = protocolNameOf(this, text);
      if (again === null) throw err;
      return send(again).catch((second: unknown) => {
        throw (second as { code?: unknown }).code === ABORTED ? err : second;
      });
    });
    if (typeof callback !== 'function') return answer as never;
    answer.then(
      (result) => (callback as QueryCallback)(null, result),
      (err: Error) => (callback as QueryCallback)(err),
    );
    return undefined as never;
  }
}
