import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { pageOffset, type PageQuery } from '../http/conventions';

/**
 * One page of the rows of `table` matching `where` (a WHERE clause or '', its `$n` values in
 * `params`), newest first (created_at, then id), and how many rows match in all.
 */
export async function selectNewestPage<T extends QueryResultRow>(
  db: Pool | PoolClient,
  table: string,
  where: string,
  params: unknown[],
  page: PageQuery,
): Promise<{ rows: T[]; total: number }> {
  const count = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table} ${where}`,
    params,
  );
  const { rows } = await db.query<T>(
    `SELECT * FROM ${table} ${where} ORDER BY created_at DESC, id DESC
     LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, page.limit, pageOffset(page)],
  );
  return { rows, total: Number(count.rows[0]?.n ?? 0) };
}
