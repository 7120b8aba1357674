import type { Pool, PoolClient } from 'pg';
import type { Migration } from '../postgres/migrations';
import type { Statement } from '../postgres/statement';
import type { LogSlice } from '../http/conventions';
import { publishedPromise, type AnchorPromise, type PublishedPromise } from './promise';
import type {
  AnchorStore,
  LogPage,
  PublishedBatch,
  AnchorBatchPlan,
  ChainIdentity,
  AnchorConfirmation,
  NewAnchorRecord,
  AnchorQueryable,
  ChainLink,
  StoredAnchorBatch,
  StoredAnchorRecord,
} from './store';

/**
 * Tables of one service's anchors (each service has its own database, so the names are fixed).
 * Add `anchorMigrations` to the service's migrations list.
 */
export const ANCHOR_MIGRATION_SQL = `
CREATE TABLE IF NOT EXISTS anchor_batches (
  id uuid PRIMARY KEY,
  seq bigserial UNIQUE,
  on_chain_id text NOT NULL UNIQUE,
  root text NOT NULL,
  previous_root text NOT NULL,
  record_count integer NOT NULL CHECK (record_count > 0),
  status text NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed', 'superseded')),
  chain_id bigint,
  genesis_hash text,
  contract_address text,
  tx_hash text,
  block_number bigint,
  block_hash text,
  block_timestamp timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz
);
CREATE INDEX IF NOT EXISTS anchor_batches_unfinished ON anchor_batches (seq)
  WHERE status IN ('pending', 'sent');
CREATE INDEX IF NOT EXISTS anchor_batches_tx ON anchor_batches (tx_hash);

CREATE TABLE IF NOT EXISTS anchor_records (
  id bigserial PRIMARY KEY,
  record_type text NOT NULL,
  record_id text NOT NULL,
  source_id text NOT NULL,
  version integer NOT NULL,
  salt text NOT NULL,
  leaf text NOT NULL,
  canonical text NOT NULL,
  batch_id uuid REFERENCES anchor_batches (id),
  proof jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (record_type, source_id)
);
CREATE INDEX IF NOT EXISTS anchor_records_subject ON anchor_records (record_type, record_id);
CREATE INDEX IF NOT EXISTS anchor_records_queue ON anchor_records (id) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS anchor_records_batch ON anchor_records (batch_id);
`;

/**
 * Entries of a record form a hash chain (docs/verification.md §1): its place, the previous leaf,
 * the record's public key and the promise signed at write time. A chain cannot fork: one entry
 * per (record, sequence). Several entries may name one source row (an attempt claimed, then
 * settled), so (record_type, source_id) is no longer unique.
 */
export const ANCHOR_CHAIN_MIGRATION_SQL = `
ALTER TABLE anchor_records ADD COLUMN IF NOT EXISTS sequence integer;
ALTER TABLE anchor_records ADD COLUMN IF NOT EXISTS previous_leaf text;
ALTER TABLE anchor_records ADD COLUMN IF NOT EXISTS record_key text;
ALTER TABLE anchor_records ADD COLUMN IF NOT EXISTS promise jsonb;
ALTER TABLE anchor_records DROP CONSTRAINT IF EXISTS anchor_records_record_type_source_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS anchor_records_chain
  ON anchor_records (record_type, record_id, sequence) WHERE sequence IS NOT NULL;

-- What each batch anchored, written with the batch and never changed: the public log shows it
-- even after a fresh chain sends the batch's records back to the queue.
CREATE TABLE IF NOT EXISTS anchor_batch_leaves (
  batch_id uuid NOT NULL REFERENCES anchor_batches (id),
  position integer NOT NULL,
  leaf text NOT NULL,
  record_key text,
  sequence integer,
  PRIMARY KEY (batch_id, position)
);
INSERT INTO anchor_batch_leaves (batch_id, position, leaf, record_key, sequence)
  SELECT batch_id, (row_number() OVER (PARTITION BY batch_id ORDER BY id))::int - 1, leaf,
         record_key, sequence
    FROM anchor_records WHERE batch_id IS NOT NULL
  ON CONFLICT DO NOTHING;
CREATE INDEX IF NOT EXISTS anchor_batch_leaves_record ON anchor_batch_leaves (record_key, sequence);
`;

/**
 * The W3C trace context the entry was written in (tracing on): the anchoring batch's span links
 * to it, so a saga's trace shows where its records were anchored without waiting for it.
 */
export const ANCHOR_TRACE_MIGRATION_SQL = `
ALTER TABLE anchor_records ADD COLUMN IF NOT EXISTS traceparent text;
`;

export const anchorMigrations: Migration[] = [
  { id: '900_anchoring', sql: ANCHOR_MIGRATION_SQL },
  { id: '901_anchoring_chain', sql: ANCHOR_CHAIN_MIGRATION_SQL },
  { id: '902_anchoring_trace', sql: ANCHOR_TRACE_MIGRATION_SQL },
];

// Distinct from the migrations lock; the same for every instance of a service (one DB per service).
const WRITER_LOCK_KEY = 724_311_903;

interface RecordRow {
  id: string;
  record_type: string;
  record_id: string;
  source_id: string;
  version: number;
  salt: string;
  leaf: string;
  canonical: string;
  batch_id: string | null;
  proof: string[] | null;
  created_at: Date;
  sequence: number | null;
  previous_leaf: string | null;
  record_key: string | null;
  promise: AnchorPromise | null;
  traceparent: string | null;
}

interface BatchRow {
  id: string;
  on_chain_id: string;
  root: string;
  previous_root: string;
  record_count: number;
  status: StoredAnchorBatch['status'];
  chain_id: string | null;
  genesis_hash: string | null;
  contract_address: string | null;
  tx_hash: string | null;
  block_number: string | null;
  block_hash: string | null;
  block_timestamp: Date | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
}

const toRecord = (r: RecordRow): StoredAnchorRecord => ({
  id: String(r.id),
  recordType: r.record_type,
  recordId: r.record_id,
  sourceId: r.source_id,
  version: r.version,
  salt: r.salt,
  leaf: r.leaf,
  canonical: r.canonical,
  batchId: r.batch_id,
  proof: r.proof,
  createdAt: r.created_at,
  sequence: r.sequence,
  previousLeaf: r.previous_leaf,
  recordKey: r.record_key,
  promise: r.promise,
  traceparent: r.traceparent,
});

const toBatch = (b: BatchRow): StoredAnchorBatch => ({
  id: b.id,
  onChainId: b.on_chain_id,
  root: b.root,
  previousRoot: b.previous_root,
  recordCount: b.record_count,
  status: b.status,
  chainId: b.chain_id === null ? null : Number(b.chain_id),
  genesisHash: b.genesis_hash,
  contractAddress: b.contract_address,
  txHash: b.tx_hash,
  blockNumber: b.block_number === null ? null : Number(b.block_number),
  blockHash: b.block_hash,
  blockTimestamp: b.block_timestamp,
  attempts: b.attempts,
  lastError: b.last_error,
  createdAt: b.created_at,
});

const RECORD_COLUMNS =
  'r.id, r.record_type, r.record_id, r.source_id, r.version, r.salt, r.leaf, r.canonical, r.batch_id, r.proof, r.created_at, r.sequence, r.previous_leaf, r.record_key, r.promise, r.traceparent';

/** The leaves a page of the batches log holds at most, unless its first batch has more. */
export const LEAVES_PER_LOG_PAGE = 5_000;

export class PgAnchorStore implements AnchorStore {
  private lockClient: PoolClient | null = null;

  constructor(private readonly pool: Pool) {}

  insertRecordStatement(rec: NewAnchorRecord): Statement {
    for (const n of [rec.version, rec.sequence])
      if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
    return {
      text: `INSERT INTO anchor_records (record_type, record_id, source_id, version, salt, leaf,
         canonical, sequence, previous_leaf, record_key, promise, traceparent)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      values: [
        rec.recordType,
        rec.recordId,
        rec.sourceId,
        rec.version,
        rec.salt,
        rec.leaf,
        rec.canonical,
        rec.sequence,
        rec.previousLeaf,
        rec.recordKey,
        rec.promise === null ? null : JSON.stringify(rec.promise),
        rec.traceparent ?? null,
      ],
    };
  }

  chainStatement(recordType: string, recordId: string): Statement {
    // The index on (record_type, record_id, sequence), where sequence is set, answers it in order.
    return {
      text: `SELECT sequence, leaf, canonical FROM anchor_records
        WHERE record_type = $1 AND record_id = $2 AND sequence IS NOT NULL
        ORDER BY sequence`,
      values: [recordType, recordId],
    };
  }

  chainFromRows(rows: unknown[]): ChainLink[] {
    return rows as ChainLink[];
  }

  async oldestUnbatched(
    limit: number,
  ): Promise<{ records: StoredAnchorRecord[]; oldestAgeMs: number | null }> {
    const { rows } = await this.pool.query<RecordRow & { age_ms: number }>(
      `SELECT ${RECORD_COLUMNS}, EXTRACT(EPOCH FROM (now() - r.created_at)) * 1000 AS age_ms
         FROM anchor_records r WHERE r.batch_id IS NULL ORDER BY r.id LIMIT $1`,
      [limit],
    );
    return {
      records: rows.map(toRecord),
      oldestAgeMs: rows.length ? Number(rows[0].age_ms) : null,
    };
  }

  async createBatch(
    batch: { id: string; onChainId: string; chain: ChainIdentity },
    recordIds: string[],
    plan: AnchorBatchPlan,
  ): Promise<StoredAnchorBatch> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<BatchRow>(
        `INSERT INTO anchor_batches
           (id, on_chain_id, root, previous_root, record_count, status, chain_id, genesis_hash, contract_address)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8) RETURNING *`,
        [
          batch.id,
          batch.onChainId,
          plan.root,
          plan.previousRoot,
          recordIds.length,
          batch.chain.chainId,
          batch.chain.genesisHash,
          batch.chain.contractAddress,
        ],
      );
      // One statement for the whole batch: record ids and their proofs as parallel arrays.
      const { rowCount } = await client.query(
        `UPDATE anchor_records r SET batch_id = $1, proof = u.proof::jsonb
           FROM unnest($2::bigint[], $3::text[]) AS u(id, proof)
          WHERE r.id = u.id AND r.batch_id IS NULL`,
        [batch.id, recordIds, recordIds.map((id) => JSON.stringify(plan.proofs.get(id) ?? []))],
      );
      if (rowCount !== recordIds.length) throw new Error('records were batched concurrently');
      await client.query(
        `INSERT INTO anchor_batch_leaves (batch_id, position, leaf, record_key, sequence)
         SELECT $1, u.position - 1, r.leaf, r.record_key, r.sequence
           FROM unnest($2::bigint[]) WITH ORDINALITY AS u(id, position)
           JOIN anchor_records r ON r.id = u.id`,
        [batch.id, recordIds],
      );
      await client.query('COMMIT');
      return toBatch(rows[0]);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async unfinishedBatches(): Promise<StoredAnchorBatch[]> {
    const { rows } = await this.pool.query<BatchRow>(
      `SELECT * FROM anchor_batches WHERE status IN ('pending', 'sent') ORDER BY seq`,
    );
    return rows.map(toBatch);
  }

  async markSent(batchId: string, txHash: string): Promise<void> {
    await this.pool.query(
      `UPDATE anchor_batches SET status = 'sent', tx_hash = $2, attempts = attempts + 1, last_error = NULL
        WHERE id = $1`,
      [batchId, txHash],
    );
  }

  async markConfirmed(batchId: string, c: AnchorConfirmation): Promise<void> {
    await this.pool.query(
      `UPDATE anchor_batches SET status = 'confirmed', tx_hash = $2, block_number = $3, block_hash = $4,
              block_timestamp = $5, confirmed_at = now(), last_error = NULL
        WHERE id = $1`,
      [batchId, c.txHash, c.blockNumber, c.blockHash, c.blockTimestamp],
    );
  }

  async markFailedAttempt(batchId: string, error: string): Promise<void> {
    await this.pool.query(
      `UPDATE anchor_batches SET attempts = attempts + 1, last_error = $2 WHERE id = $1`,
      [batchId, error.slice(0, 1000)],
    );
  }

  async requeueAllNotOn(chain: ChainIdentity): Promise<number> {
    return this.supersede(
      `chain_id IS DISTINCT FROM $1 OR genesis_hash IS DISTINCT FROM $2
       OR contract_address IS DISTINCT FROM $3`,
      [chain.chainId, chain.genesisHash, chain.contractAddress],
    );
  }

  async requeueAll(): Promise<number> {
    return this.supersede('true', []);
  }

  async lastConfirmedRoot(): Promise<string | null> {
    const { rows } = await this.pool.query<{ root: string }>(
      `SELECT root FROM anchor_batches WHERE status = 'confirmed' ORDER BY seq DESC LIMIT 1`,
    );
    return rows[0]?.root ?? null;
  }

  /** Marks the live batches matching `where` superseded and sends their records back to the queue. */
  private async supersede(where: string, params: unknown[]): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ id: string }>(
        `UPDATE anchor_batches SET status = 'superseded'
          WHERE status <> 'superseded' AND (${where})
          RETURNING id`,
        params,
      );
      const ids = rows.map((r) => r.id);
      const { rowCount } = await client.query(
        `UPDATE anchor_records SET batch_id = NULL, proof = NULL WHERE batch_id = ANY($1::uuid[])`,
        [ids],
      );
      await client.query('COMMIT');
      return rowCount ?? 0;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Entries not yet in a confirmed batch: the queue, and the entries of the batches still
   * pending or sent (a superseded batch has none: they went back to the queue with it). Each
   * part reads only the waiting rows, through an index, so a scrape of /metrics costs the
   * backlog, not the whole log: joining every entry to its batch took 288 ms at 2 million
   * entries, this takes 1 ms.
   */
  async pendingCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM anchor_records WHERE batch_id IS NULL)
            + (SELECT count(*) FROM anchor_batches b JOIN anchor_records r ON r.batch_id = b.id
                WHERE b.status IN ('pending', 'sent')) AS n`,
    );
    return Number(rows[0].n);
  }

  async recordsFor(
    recordType: string,
    recordId: string,
    db: AnchorQueryable = this.pool,
  ): Promise<StoredAnchorRecord[]> {
    const { rows } = await db.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM anchor_records r
        WHERE r.record_type = $1 AND r.record_id = $2
        ORDER BY r.sequence NULLS FIRST, r.id`,
      [recordType, recordId],
    );
    return rows.map(toRecord);
  }

  // Both logs are read by position (keyset), never by OFFSET or a count: a page costs the same
  // at the start of the log and at its millionth entry (docs/adr/0051).
  async publishedBatches(page: LogPage): Promise<LogSlice<PublishedBatch>> {
    const { rows: read } = await this.pool.query<BatchRow & { seq: string }>(
      'SELECT * FROM anchor_batches WHERE seq > $1 ORDER BY seq LIMIT $2',
      [page.after, page.limit + 1],
    );
    // A batch holds up to 10,000 leaves: a page stops before the batch that would take it past
    // the budget (its first batch always fits), so one anonymous request cannot ask for a
    // million leaves.
    const rows: typeof read = [];
    let leafCount = 0;
    for (const b of read.slice(0, page.limit)) {
      if (rows.length && leafCount + b.record_count > LEAVES_PER_LOG_PAGE) break;
      rows.push(b);
      leafCount += b.record_count;
    }
    const ids = rows.map((b) => b.id);
    // Leaves come from anchor_batch_leaves, written with the batch: superseded batches keep no
    // record link (their records went back to the queue), yet the log stays replayable.
    const leaves = ids.length
      ? (
          await this.pool.query<{
            batch_id: string;
            leaf: string;
            record_key: string | null;
            sequence: number | null;
          }>(
            `SELECT batch_id, leaf, record_key, sequence FROM anchor_batch_leaves
              WHERE batch_id = ANY($1::uuid[]) ORDER BY batch_id, position`,
            [ids],
          )
        ).rows
      : [];
    return {
      next: rows.length ? Number(rows[rows.length - 1].seq) : page.after,
      hasMore: read.length > rows.length,
      items: rows.map((b) => ({
        seq: Number(b.seq),
        batchId: b.id,
        onChainBatchId: b.on_chain_id,
        root: b.root,
        previousRoot: b.previous_root,
        recordCount: b.record_count,
        status: b.status,
        chainId: b.chain_id === null ? null : Number(b.chain_id),
        contractAddress: b.contract_address,
        txHash: b.tx_hash,
        blockNumber: b.block_number === null ? null : Number(b.block_number),
        leaves: leaves
          .filter((l) => l.batch_id === b.id)
          .map((l) => ({ leaf: l.leaf, recordKey: l.record_key, sequence: l.sequence })),
      })),
    };
  }

  async publishedPromises(page: LogPage): Promise<LogSlice<PublishedPromise>> {
    const { rows: read } = await this.pool.query<{ id: string; promise: AnchorPromise | null }>(
      'SELECT id, promise FROM anchor_records WHERE id > $1 ORDER BY id LIMIT $2',
      [page.after, page.limit + 1],
    );
    const rows = read.slice(0, page.limit);
    return {
      next: rows.length ? Number(rows[rows.length - 1].id) : page.after,
      hasMore: read.length > page.limit,
      items: rows.flatMap((r) => (r.promise ? [publishedPromise(r.promise)] : [])),
    };
  }

  async recordsInTx(txHash: string): Promise<StoredAnchorRecord[]> {
    const { rows } = await this.pool.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM anchor_records r
         JOIN anchor_batches b ON b.id = r.batch_id
        WHERE lower(b.tx_hash) = lower($1) ORDER BY r.id`,
      [txHash],
    );
    return rows.map(toRecord);
  }

  async batch(id: string, db: AnchorQueryable = this.pool): Promise<StoredAnchorBatch | null> {
    const { rows } = await db.query<BatchRow>('SELECT * FROM anchor_batches WHERE id = $1', [id]);
    return rows[0] ? toBatch(rows[0]) : null;
  }

  async loggedLeaves(
    recordKey: string,
    db: AnchorQueryable = this.pool,
  ): Promise<{ sequence: number; leaf: string; batchId: string }[]> {
    const { rows } = await db.query<{ sequence: number; leaf: string; batch_id: string }>(
      `SELECT sequence, leaf, batch_id FROM anchor_batch_leaves
        WHERE record_key = $1 AND sequence IS NOT NULL ORDER BY sequence`,
      [recordKey],
    );
    return rows.map((r) => ({ sequence: r.sequence, leaf: r.leaf, batchId: r.batch_id }));
  }

  async supersedeBatch(batchId: string): Promise<number> {
    return this.supersede('id = $1', [batchId]);
  }

  async latestChainIdentity(): Promise<ChainIdentity | null> {
    const { rows } = await this.pool.query<BatchRow>(
      `SELECT * FROM anchor_batches WHERE status <> 'superseded' AND contract_address IS NOT NULL
        ORDER BY seq DESC LIMIT 1`,
    );
    const b = rows[0];
    if (!b || b.chain_id === null || !b.genesis_hash || !b.contract_address) return null;
    return {
      chainId: Number(b.chain_id),
      genesisHash: b.genesis_hash,
      contractAddress: b.contract_address,
    };
  }

  async acquireWriterLock(): Promise<boolean> {
    if (this.lockClient) return true;
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock($1) AS ok',
        [WRITER_LOCK_KEY],
      );
      if (rows[0].ok) {
        this.lockClient = client;
        // A dropped connection loses the lock: forget it so the next tick re-acquires it.
        client.on('error', (err) => {
          if (this.lockClient !== client) return;
          this.lockClient = null;
          client.release(err);
        });
        return true;
      }
    } catch {
      // fall through: not the writer this time
    }
    client.release();
    return false;
  }

  async releaseWriterLock(): Promise<void> {
    const client = this.lockClient;
    this.lockClient = null;
    if (!client) return;
    await client.query('SELECT pg_advisory_unlock($1)', [WRITER_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
