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
