import type { Pool } from 'pg';
import type { PostgresConfig } from '../config/schemas';
import type { Logger } from '../logging/logger';
import { runMigrations, type Migration } from '../postgres/migrations';
import { createPgPool } from '../postgres/pool';
import type { Worker } from '../service/define-service';
import type { AnchorLogger } from './anchorer';
import type { Anchoring, RecordTypeConfig } from './anchoring';
import { anchoringFromConfig, type AnchoringConfig } from './config';
import { noopAnchor, type AnchorSink } from './sink';

/** A service's anchoring, in the parts its kit definition needs. */
export interface ServiceAnchoring {
  /** Null when anchoring is off (no BLOCKCHAIN_RPC_URL) or replaced by a test's sink. */
  anchoring: Anchoring | null;
  /** What the use cases enqueue to: the replacement, else the anchoring, else a no-op. */
  sink: AnchorSink;
  /** The anchor tables' migrations while anchoring is on; run with the service's own. */
  migrations: Migration[];
  /** The anchorer as a kit worker: it works in the background, a chain that is down only delays it. */
  workers: Worker[];
  /** Waits until every queued anchor record is on chain (tests, graceful drain). */
  flush(timeoutMs?: number): Promise<void>;
}

/**
 * Builds the anchoring of a PostgreSQL service from its configuration (see
 * anchoringFromConfig), closed with the service's resources, unless `replacement` stands in.
 */
export function serviceAnchoring(
  config: AnchoringConfig,
  deps: {
    pool: Pool;
    recordTypes: Record<string, RecordTypeConfig>;
    logger?: AnchorLogger;
    onClose(name: string, close: () => unknown): void;
    replacement?: AnchorSink;
  },
): ServiceAnchoring {
  const anchoring = deps.replacement ? null : anchoringFromConfig(config, deps);
  if (anchoring) deps.onClose('anchoring', () => anchoring.close());
  return {
    anchoring,
    sink: deps.replacement ?? anchoring ?? noopAnchor,
    migrations: anchoring ? anchoring.migrations : [],
    workers: anchoring ? [{ start: () => anchoring.start(), stop: () => anchoring.stop() }] : [],
    flush: (timeoutMs) => anchoring?.flush(timeoutMs) ?? Promise.resolve(),
  };
}

/**
 * The store of an anchoring PostgreSQL service (order, payment): its pool (closed with the
 * service), its anchoring over that pool, and the service's migrations run with the anchor
 * tables' own.
 */
export async function openAnchoredStore(
  config: AnchoringConfig & PostgresConfig,
  deps: {
    migrations: Migration[];
    recordTypes: Record<string, RecordTypeConfig>;
    logger: Logger;
    onClose(name: string, close: () => unknown): void;
    replacement?: AnchorSink;
  },
): Promise<{ pool: Pool; anchors: ServiceAnchoring }> {
  const pool = createPgPool(config.DATABASE_URL, config.DATABASE_POOL_MAX, deps.logger, {
    preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
  });
  deps.onClose('postgres', () => pool.end());
  const anchors = serviceAnchoring(config, { ...deps, pool });
  await runMigrations(pool, [...deps.migrations, ...anchors.migrations]);
  return { pool, anchors };
}
