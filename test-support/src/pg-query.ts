import { Client } from 'pg';

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
