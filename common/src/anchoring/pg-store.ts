import type { Pool, PoolClient } from 'pg';
import type { Migration } from '../postgres/migrations';
import type {
  AnchorStore,
  AnchorBatchPlan,
  ChainIdentity,
  AnchorConfirmation,
  NewAnchorRecord,
  AnchorQueryable,
  StoredAnchorBatch,
  StoredAnchorRecord,
} from './store';

/**
 * Tables of one service's anchors (each service has its own database, so the names are fixed).
 * Add `anchorMigration` to the service's migrations list.
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

export const anchorMigration: Migration = { id: '900_anchoring', sql: ANCHOR_MIGRATION_SQL };

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
  'r.id, r.record_type, r.record_id, r.source_id, r.version, r.salt, r.leaf, r.canonical, r.batch_id, r.proof, r.created_at';

export class PgAnchorStore implements AnchorStore {
  private lockClient: PoolClient | null = null;

  constructor(private readonly pool: Pool) {}

  async insertRecord(db: AnchorQueryable, rec: NewAnchorRecord): Promise<boolean> {
    const { rowCount } = await db.query(
      `INSERT INTO anchor_records (record_type, record_id, source_id, version, salt, leaf, canonical)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (record_type, source_id) DO NOTHING`,
      [rec.recordType, rec.recordId, rec.sourceId, rec.version, rec.salt, rec.leaf, rec.canonical],
    );
    return rowCount === 1;
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
      await client.query('COMMIT');
      return toBatch(rows[0]);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async lastRoot(): Promise<string> {
    const { rows } = await this.pool.query<{ root: string }>(
      `SELECT root FROM anchor_batches WHERE status <> 'superseded'
        ORDER BY seq DESC LIMIT 1`,
    );
    return rows[0]?.root ?? `0x${'0'.repeat(64)}`;
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

  async pendingCount(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM anchor_records r
         LEFT JOIN anchor_batches b ON b.id = r.batch_id
        WHERE r.batch_id IS NULL OR b.status <> 'confirmed'`,
    );
    return Number(rows[0].n);
  }

  async recordsFor(recordType: string, recordId: string): Promise<StoredAnchorRecord[]> {
    const { rows } = await this.pool.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM anchor_records r
        WHERE r.record_type = $1 AND r.record_id = $2 ORDER BY r.id`,
      [recordType, recordId],
    );
    return rows.map(toRecord);
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

  async batch(id: string): Promise<StoredAnchorBatch | null> {
    const { rows } = await this.pool.query<BatchRow>('SELECT * FROM anchor_batches WHERE id = $1', [
      id,
    ]);
    return rows[0] ? toBatch(rows[0]) : null;
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
