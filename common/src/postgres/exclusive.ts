import type { Pool } from 'pg';

/**
 * Runs `work` only if no other session (another replica of the service) is running work under
 * the same name: a session-level advisory lock held on a connection of its own for the whole
 * run. The lock dies with its session, so a replica that crashes or loses its connection
 * frees it at once and the next pass of a survivor takes the work over. Returns undefined
 * (work not run) when another session holds it.
 *
 * For periodic passes whose units cannot be claimed row by row inside one transaction (a call
 * to an outside system between claim and recording): one pass at a time per database.
 */
export async function runExclusively<T>(
  pool: Pool,
  name: string,
  work: () => Promise<T>,
): Promise<{ ran: true; result: T } | { ran: false }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection that dies while held is released as broken (not returned to the pool).
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    const { rows } = await client
      .query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok', [name])
      .catch((err: Error) => {
        broken ??= err;
        throw err;
      });
    if (!rows[0].ok) return { ran: false };
    try {
      return { ran: true, result: await work() };
    } finally {
      await client
        .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name])
        .catch((err: Error) => {
          broken ??= err;
        });
    }
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
