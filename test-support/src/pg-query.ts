import { Client, Pool } from 'pg';
import { preparedStatementText } from '@ecom/common/postgres';

/**
 * One query on a connection of its own, closed after: for checks that read a service's
 * database from outside it (invariants, benchmarks), never sharing the service's pool.
 */
export async function queryOnce<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Resolves once backend `pid` waits for a lock (pg_stat_activity), so a test can let the
 * holder go knowing the other statement queued behind it; fails after `timeoutMs`.
 */
export async function untilWaitingForLock(
  db: { query: Client['query'] },
  pid: number,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query(
      "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
      [pid],
    );
    if (rows.length > 0) return;
    if (Date.now() > deadline) throw new Error(`backend ${pid} never waited for a lock`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The text of a statement as a spy on pg's `Client.prototype.query` saw its first argument: a
 * string, or a config (a statement sent alone with values goes named, as `{ name, text, values }`).
 * Statements prepared in a simple query read as written: the `PREPARE "ecom_…" AS …;` at the
 * query's head are left out and `EXECUTE "ecom_…"(…)` shows the statement's text before its
 * values.
 */
export function queryText(arg: unknown): string {
  const text =
    typeof arg === 'string' ? arg : String((arg as { text?: unknown } | null)?.text ?? '');
  let shown = text;
  for (const [, name] of text.matchAll(/^PREPARE "(ecom_[0-9a-f]{24}(?:_\d+)?)" AS /gm)) {
    const statement = preparedStatementText(name!);
    if (statement !== undefined) shown = shown.replace(`PREPARE "${name}" AS ${statement};\n`, '');
  }
  return shown.replace(/EXECUTE "(ecom_[0-9a-f]{24}(?:_\d+)?)"/g, (match, name: string) => {
    const statement = preparedStatementText(name);
    return statement === undefined ? match : `${statement} /* EXECUTE "${name}" */`;
  });
}

/**
 * A pool for a test's own reads and writes beside the service under test. Like the services'
 * pools it rides out a connection the server ends: pg-pool drops it and opens another on the
 * next query. Without a listener the pool's 'error' ends the whole test file, and one comes
 * often enough: pool.end() resolves before its connections are closed, so the database's
 * cleanup (pg_terminate_backend) may reach one still closing.
 */
export function testPool(url: string, max: number): Pool {
  const pool = new Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}
