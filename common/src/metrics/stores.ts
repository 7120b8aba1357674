import type client from 'prom-client';
import { gaugeOnScrape } from './scrape';

/** What a pg Pool reports about itself (its own counters, no query). */
export interface PgPoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
}

/** The pool of a mongoose connection: the driver's connection pool events. */
export interface MongoConnectionLike {
  getClient(): {
    on(event: string, listener: (...args: unknown[]) => void): unknown;
    options?: { maxPoolSize?: number };
  };
}

const POOL_CONNECTIONS = {
  name: 'db_pool_connections',
  help: 'Connections of the store pool by state (in_use, idle)',
  labelNames: ['store', 'state'] as const,
};
const POOL_WAITING = {
  name: 'db_pool_waiting_requests',
  help: 'Requests waiting for a connection of the store pool',
  labelNames: ['store'] as const,
};
const POOL_MAX = {
  name: 'db_pool_max_connections',
  help: 'Most connections the store pool opens',
  labelNames: ['store'] as const,
};

/** db_pool_* for a PostgreSQL pool, read from the pool on each scrape. */
export function pgPoolMetrics(registry: client.Registry, pool: PgPoolLike): void {
  gaugeOnScrape(registry, POOL_CONNECTIONS, (set) => {
    set(pool.totalCount - pool.idleCount, { store: 'postgres', state: 'in_use' });
    set(pool.idleCount, { store: 'postgres', state: 'idle' });
  });
  gaugeOnScrape(registry, POOL_WAITING, (set) => set(pool.waitingCount, { store: 'postgres' }));
  gaugeOnScrape(registry, POOL_MAX, (set) => set(pool.options.max ?? 10, { store: 'postgres' }));
}

/**
 * db_pool_* for a MongoDB connection, counted from the driver's pool events (created, closed,
 * checked out, checked in, check-out started and failed).
 */
export function mongoPoolMetrics(registry: client.Registry, connection: MongoConnectionLike): void {
  const driver = connection.getClient();
  let open = 0;
  let inUse = 0;
  let waiting = 0;
  driver.on('connectionCreated', () => open++);
  driver.on('connectionClosed', () => (open = Math.max(0, open - 1)));
  driver.on('connectionCheckOutStarted', () => waiting++);
  driver.on('connectionCheckOutFailed', () => (waiting = Math.max(0, waiting - 1)));
  driver.on('connectionCheckedOut', () => {
    waiting = Math.max(0, waiting - 1);
    inUse++;
  });
  driver.on('connectionCheckedIn', () => (inUse = Math.max(0, inUse - 1)));
  gaugeOnScrape(registry, POOL_CONNECTIONS, (set) => {
    set(inUse, { store: 'mongodb', state: 'in_use' });
    set(Math.max(0, open - inUse), { store: 'mongodb', state: 'idle' });
  });
  gaugeOnScrape(registry, POOL_WAITING, (set) => set(waiting, { store: 'mongodb' }));
  gaugeOnScrape(registry, POOL_MAX, (set) =>
    set(driver.options?.maxPoolSize ?? 100, { store: 'mongodb' }),
  );
}
