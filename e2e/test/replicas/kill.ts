import type { Pool } from 'pg';
import type { EventBus } from '@ecom/common/bus';

/** What a replica runs that a dead process no longer would. */
export interface ReplicaParts {
  /** Its PostgreSQL pool: every session of it is terminated. */
  pool: Pool;
  /** Its own bus connection (RabbitMQ): dropped without a goodbye, nothing acknowledged. */
  bus: EventBus | undefined;
  /** Its background tasks (relay, sweeper, reconciler, anchoring): they stop ticking. */
  timers: Array<{ stop(): Promise<void> } | null | undefined>;
}

/**
 * The closest in-process stand-in for `kill -9` of a replica: its pool takes no new
 * connection and every session it had is terminated by the server (so session-level advisory
 * locks it held are freed and its open transactions roll back), its AMQP socket is destroyed
 * mid-stream (the broker requeues whatever it had not acknowledged, as for a dead process),
 * and its timers stop. Handlers it has in flight stay blocked where they are. `admin` is a
 * pool on the replica's own database.
 */
export async function killReplica(parts: ReplicaParts, admin: Pool): Promise<void> {
  const internals = parts.pool as unknown as {
    _clients: Array<{
      processID: number | null;
      connection?: { stream?: { localPort?: number } };
    }>;
  };
  // A session is its backend's pid and the client's port: a pid the pool still lists may have
  // ended and been reused by another session (pids wrap at pid_max), even of the other replica
  // on this same database, and terminating that one failed unrelated tests in CI. The pair is
  // this pool's own connection (a Unix socket's port reads -1 on both sides).
  const sessions = internals._clients
    .filter((c) => !!c.processID)
    .map((c) => ({ pid: c.processID!, port: c.connection?.stream?.localPort ?? -1 }));
  // No new connection from here on (end() resolves only once the checked-out ones are gone).
  void parts.pool.end().catch(() => undefined);
  parts.pool.on('error', () => undefined);
  const { rowCount } = await admin.query(
    `SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a
       JOIN unnest($1::int[], $2::int[]) AS s(pid, port)
         ON a.pid = s.pid AND coalesce(a.client_port, -1) = s.port
      WHERE a.datname = current_database()`,
    [sessions.map((s) => s.pid), sessions.map((s) => s.port)],
  );
  // A kill that found none of its sessions would leave its locks held and prove nothing.
  if (sessions.length > 0 && !rowCount)
    throw new Error(`none of the replica's ${sessions.length} sessions was found to terminate`);

  const bus = parts.bus as unknown as {
    closed: boolean;
    conn?: { connection: { stream: { destroy(error?: Error): void } } };
  };
  if (bus) {
    bus.closed = true; // a dead process does not reconnect
    // With an error, so the client library also stops its heartbeat timers (as at exit).
    bus.conn?.connection.stream.destroy(new Error('replica killed (test)'));
  }
  await Promise.all(parts.timers.map((t) => t?.stop().catch(() => undefined)));
}
