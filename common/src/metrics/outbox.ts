import type { Connection } from 'mongoose';
import type { Pool } from 'pg';
import type client from 'prom-client';
import { gaugeOnScrape, sharedRead } from './scrape';
import { mongoPoolMetrics, pgPoolMetrics } from './stores';

/** The rows the relay has not sent yet and when the oldest of them was written. */
export interface OutboxBacklog {
  unsent: number;
  oldestUnsentAt: Date | null;
}

/**
 * outbox_unsent_events and outbox_lag_seconds (age of the oldest unsent row: 0 when the relay
 * has caught up), one cheap indexed read per scrape.
 */
export function outboxMetrics(registry: client.Registry, read: () => Promise<OutboxBacklog>): void {
  const backlog = sharedRead(read);
  gaugeOnScrape(
    registry,
    { name: 'outbox_unsent_events', help: 'Outbox rows written and not yet sent to the bus' },
    async (set) => set((await backlog()).unsent),
  );
  gaugeOnScrape(
    registry,
    { name: 'outbox_lag_seconds', help: 'Age of the oldest unsent outbox row (0: none unsent)' },
    async (set) => {
      const { oldestUnsentAt } = await backlog();
      set(oldestUnsentAt ? Math.max(0, (Date.now() - oldestUnsentAt.getTime()) / 1000) : 0);
    },
  );
}

/** The PostgreSQL outbox (event_outbox; its partial index on unsent rows keeps this cheap). */
export function pgOutboxBacklog(pool: Pool): () => Promise<OutboxBacklog> {
  return async () => {
    const { rows } = await pool.query<{ unsent: number; oldest: Date | null }>(
      'SELECT count(*)::int AS unsent, min(created_at) AS oldest FROM event_outbox WHERE sent_at IS NULL',
    );
    return { unsent: rows[0]?.unsent ?? 0, oldestUnsentAt: rows[0]?.oldest ?? null };
  };
}

/** A MongoDB outbox collection (indexed on sentAt). */
export function mongoOutboxBacklog(
  connection: Connection,
  collection = 'outbox',
): () => Promise<OutboxBacklog> {
  return async () => {
    const rows = connection.collection(collection);
    const [unsent, oldest] = await Promise.all([
      rows.countDocuments({ sentAt: null }),
      rows.findOne({ sentAt: null }, { sort: { createdAt: 1 }, projection: { createdAt: 1 } }),
    ]);
    const at = (oldest as { createdAt?: unknown } | null)?.createdAt;
    return { unsent, oldestUnsentAt: at instanceof Date ? at : null };
  };
}

/** A PostgreSQL service's store metrics: its pool and its outbox. */
export function pgStoreMetrics(registry: client.Registry, pool: Pool): void {
  pgPoolMetrics(registry, pool);
  outboxMetrics(registry, pgOutboxBacklog(pool));
}

/** A MongoDB service's store metrics: its connection pool and its outbox collection. */
export function mongoStoreMetrics(
  registry: client.Registry,
  connection: Connection,
  outboxCollection = 'outbox',
): void {
  mongoPoolMetrics(registry, connection);
  outboxMetrics(registry, mongoOutboxBacklog(connection, outboxCollection));
}
