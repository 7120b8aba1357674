import type { Pool, QueryResultRow } from 'pg';
import { inlineParameters, quoteLiteral } from './inline';
import type { Statement } from './statement';

/**
 * Runs `work` only if no other session (another replica of the service) is running work under
 * the same name: a session-level advisory lock held on a connection of its own for the whole
 * run. The lock dies with its session, so a replica that crashes or loses its connection
 * frees it at once and the next pass of a survivor takes the work over. Returns `{ ran: false }`
 * (work not run) when another session holds it.
 *
 * For periodic passes whose units cannot be claimed row by row inside one transaction (a call
 * to an outside system between claim and recording): one pass at a time per database.
 *
 * `firstRead`, when given, travels with the lock in one round trip (its values written in as
 * literals) and its rows are handed to `work`: a pass's first look costs no round trip of its
 * own. It is read whether or not the lock is taken; a replica that is refused drops its rows.
 */
export async function runExclusively<T, R extends QueryResultRow = QueryResultRow>(
  pool: Pool,
  name: string,
  work: (firstRows: R[]) => Promise<T>,
  firstRead?: Statement,
): Promise<{ ran: true; result: T } | { ran: false }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection that dies while held is released as broken (not returned to the pool).
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  const lock = (key: string) => `SELECT pg_try_advisory_lock(hashtextextended(${key}, 0)) AS ok`;
  // A read whose values have no text form goes on its own after the lock (a Buffer, say).
  const inlined = firstRead && inlineParameters(firstRead.text, firstRead.values);
  try {
    let taken = false;
    let firstRows: R[] = [];
    try {
      if (inlined) {
        const [locked, read] = (await client.query(
          `${lock(quoteLiteral(name))};\n${inlined}`,
        )) as unknown as [{ rows: Array<{ ok: boolean }> }, { rows: R[] }];
        taken = locked.rows[0]!.ok;
        firstRows = read.rows;
      } else {
        taken = (await client.query<{ ok: boolean }>(lock('$1'), [name])).rows[0]!.ok;
        if (taken && firstRead) {
          firstRows = (await client.query<R>(firstRead.text, [...(firstRead.values ?? [])])).rows;
        }
      }
    } catch (err) {
      // The connection is closed, not pooled: a lock it may have taken goes with its session.
      broken ??= err as Error;
      throw err;
    }
    if (!taken) return { ran: false };
    try {
      return { ran: true, result: await work(firstRows) };
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
