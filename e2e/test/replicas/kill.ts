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
  const internals = parts.pool as unknown as { _clients: Array<{ processID: number | null }> };
  const pids = internals._clients.map((c) => c.processID).filter((p): p is number => !!p);
  // No new connection from here on (end() resolves only once the checked-out ones are gone).
  void parts.pool.end().catch(() => undefined);
  parts.pool.on('error', () => undefined);
  // Only sessions of this database (the admin pool's, the replica's): a pid the pool still
  // lists may have ended and been reused by another test's session (pids wrap at pid_max), and
  // terminating that one failed an unrelated test file in CI.
  await admin.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE pid = ANY($1::int[]) AND datname = current_database()`,
    [pids],
  );

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
