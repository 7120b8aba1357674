import type { Pool } from 'pg';
import type client from 'prom-client';
import { pgStoreMetrics } from './outbox';
import { counterFollowing, gaugeOnScrape, sharedRead } from './scrape';

/** What the anchoring tells /metrics (structural: metrics do not load the chain code). */
export interface AnchoringSource {
  health(): Promise<{
    pendingRecords: number;
    lastAnchoredAt: string | null;
    consecutiveFailures: number;
    writer: boolean;
  }>;
  status(): { batchesAnchored: number; recordsAnchored: number; gasUsed: number };
}

/**
 * anchoring_*: records waiting for a batch, how long anchoring has been behind, failures in a
 * row, whether this instance is the writer, and batches/records/gas confirmed (gas per batch is
 * rate(anchoring_gas_used_total) / rate(anchoring_batches_total)).
 */
export function anchoringMetrics(registry: client.Registry, anchoring: AnchoringSource): void {
  const health = sharedRead(() => anchoring.health());
  // Anchoring behind: since the last confirmed batch while records wait (0 when none waits).
  const started = Date.now();
  gaugeOnScrape(
    registry,
    { name: 'anchoring_pending_records', help: 'Anchored entries not yet in a confirmed batch' },
    async (set) => {
      const { pendingRecords } = await health();
      if (pendingRecords >= 0) set(pendingRecords);
    },
  );
  gaugeOnScrape(
    registry,
    {
      name: 'anchoring_lag_seconds',
      help: 'Seconds since the last confirmed batch while entries wait to be anchored (0: none wait)',
    },
    async (set) => {
      const h = await health();
      if (h.pendingRecords <= 0) return set(0);
      const last = h.lastAnchoredAt ? Date.parse(h.lastAnchoredAt) : started;
      set(Math.max(0, (Date.now() - Math.max(last, started)) / 1000));
    },
  );
  gaugeOnScrape(
    registry,
    { name: 'anchoring_consecutive_failures', help: 'Anchoring attempts failed in a row' },
    async (set) => set((await health()).consecutiveFailures),
  );
  gaugeOnScrape(
    registry,
    { name: 'anchoring_writer', help: '1 when this instance holds the anchoring writer lock' },
    async (set) => set((await health()).writer ? 1 : 0),
  );
  counterFollowing(
    registry,
    { name: 'anchoring_batches_total', help: 'Anchor batches confirmed on chain by this instance' },
    () => anchoring.status().batchesAnchored,
  );
  counterFollowing(
    registry,
    {
      name: 'anchoring_records_total',
      help: 'Entries anchored in batches confirmed by this instance',
    },
    () => anchoring.status().recordsAnchored,
  );
  counterFollowing(
    registry,
    { name: 'anchoring_gas_used_total', help: 'Gas used by the anchor transactions confirmed' },
    () => anchoring.status().gasUsed,
  );
}

/** An anchoring PostgreSQL service (order, payment): pool, outbox and anchoring (when on). */
export function anchoredStoreMetrics(
  registry: client.Registry,
  pool: Pool,
  anchoring: AnchoringSource | null,
): void {
  pgStoreMetrics(registry, pool);
  if (anchoring) anchoringMetrics(registry, anchoring);
}
