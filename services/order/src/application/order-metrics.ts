import type { Pool } from 'pg';
import { gaugeOnScrape, Histogram, type Registry } from '@ecom/common/metrics';
import { ORDER_STATUSES } from '../domain/state-machine';

/** What the transitions tell /metrics. */
export interface OrderMetrics {
  /** An order reached CONFIRMED; `createdAt` is when it was placed (its POST). */
  confirmed(createdAt: string): void;
}

/**
 * order_confirmation_duration_seconds (POST /orders to CONFIRMED, the saga end to end) and
 * orders_in_status{status}, counted on each scrape (indexed on status).
 */
export function orderMetrics(registry: Registry, pool: Pool): OrderMetrics {
  const toConfirmed = new Histogram({
    name: 'order_confirmation_duration_seconds',
    help: 'From an order being placed to it being CONFIRMED',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [registry],
  });
  gaugeOnScrape(
    registry,
    { name: 'orders_in_status', help: 'Orders by current status', labelNames: ['status'] },
    async (set) => {
      const { rows } = await pool.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM orders GROUP BY status',
      );
      const counts = new Map(rows.map((r) => [r.status, r.n]));
      // Every status, zeros included, so a status that empties shows 0 rather than vanishing.
      for (const status of ORDER_STATUSES) set(counts.get(status) ?? 0, { status });
    },
  );
  return {
    confirmed(createdAt) {
      const seconds = (Date.now() - Date.parse(createdAt)) / 1000;
      if (Number.isFinite(seconds)) toConfirmed.observe(Math.max(0, seconds));
    },
  };
}
