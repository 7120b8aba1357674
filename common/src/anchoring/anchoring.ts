import type { Pool } from 'pg';
import type { JsonRpcProvider, Signer } from 'ethers';
import type { Migration } from '../postgres/migrations';
import { Anchorer, type AnchorLogger, type AnchorerStatus } from './anchorer';
import { SERIALIZATION_VERSION } from './canonical';
import { checkChain, createChainProvider } from './chain';
import { auditAnchorAt, deployAuditAnchor } from './contract';
import { computeLeaf, newSalt } from './leaf';
import { PgAnchorStore, anchorMigration } from './pg-store';
import type { AnchorStore, AnchorQueryable, StoredAnchorBatch, StoredAnchorRecord } from './store';
import { verifyRecord, type CurrentPayload, type RecordAnchorView } from './verify';

/** One kind of anchored record, e.g. `order` (every status change) or `payment`. */
export interface RecordTypeConfig {
  /**
   * Rebuilds the anchored payload from the service's own tables as they are NOW (null when the
   * row is gone), so an edit made directly in the database shows as `tampered`. Without it, the
   * payload snapshot kept in anchor_records is checked instead.
   */
  load?: (db: AnchorQueryable, ref: { recordId: string; sourceId: string }) => Promise<unknown>;
}

export interface AnchorRecordInput {
  /** A key of `recordTypes`, e.g. 'order'. */
  recordType: string;
  /** The entity the record belongs to (order id, payment id): what recordsFor() looks up. */
  recordId: string;
  /** The row holding this state (e.g. a status-history row id); unique per record type. */
  sourceId: string;
  /** The state anchored; integers and strings only for amounts (floats are rejected). */
  payload: unknown;
}

export interface AnchoringOptions {
  pool: Pool;
  rpcUrl: string;
  /** Default 31337 (Hardhat). */
  chainId?: number;
  contractAddress?: string;
  privateKey: string;
  recordTypes: Record<string, RecordTypeConfig>;
  /**
   * What to do when no contract is found (fresh chain): true deploys AuditAnchor from the
   * anchorer key (the embedded/dev setup), a function deploys your way, false (default) waits and
   * reports the error in health().
   */
  deploy?: boolean | ((signer: Signer) => Promise<string>);
  windowMs?: number;
  maxBatchSize?: number;
  pollingMs?: number;
  chainCheckIntervalMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  logger?: AnchorLogger;
  /** Defaults to PgAnchorStore(pool). */
  store?: AnchorStore;
}

export interface AnchoringHealth {
  ok: boolean;
  chainId: number | null;
  writer: boolean;
  contractAddress: string | null;
  pendingRecords: number;
  lastAnchoredAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
}

export interface TxAnchorView {
  txHash: string;
  batchId: string;
  root: string;
  recordCount: number;
  blockNumber: number | null;
  records: RecordAnchorView[];
}

export interface Anchoring {
  /** The SQL migration creating anchor_records and anchor_batches; add it to the service's list. */
  readonly migration: Migration;
  readonly provider: JsonRpcProvider;
  readonly anchorerAddress: string;
  /**
   * Queues a record, in the caller's transaction when `db` is a client inside one (a SAVEPOINT
   * keeps a failure from aborting it). Never throws: returns false (and logs) when the record
   * could not be queued; a duplicate (same type and sourceId) is a no-op that returns false.
   */
  enqueue(db: AnchorQueryable, record: AnchorRecordInput): Promise<boolean>;
  start(): void;
  /** Stops the worker after its current pass and releases the writer lock (start() resumes). */
  stop(): Promise<void>;
  /** stop() and close the JSON-RPC provider: for graceful shutdown. */
  close(): Promise<void>;
  /** Resolves once every queued record is anchored (tests, benchmarks, graceful drain). */
  flush(timeoutMs?: number): Promise<void>;
  /** For /health/ready: throws unless eth_chainId answers with the configured chain id. */
  healthCheck(): Promise<void>;
  /** Never throws: the anchoring state for /health and /metrics. */
  health(): Promise<AnchoringHealth>;
  status(): AnchorerStatus;
  recordsFor(recordType: string, recordId: string): Promise<RecordAnchorView[]>;
  /** What a transaction anchored, each record re-checked; null when no batch of ours has it. */
  recordsInTx(txHash: string): Promise<TxAnchorView | null>;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The single entry point for a service: store, worker, verification. */
export function createAnchoring(options: AnchoringOptions): Anchoring {
  const chainId = options.chainId ?? 31337;
  const store = options.store ?? new PgAnchorStore(options.pool);
  const provider = createChainProvider(options.rpcUrl, chainId, options.pollingMs ?? 50);
  const log = options.logger;
  const deploy =
    options.deploy === true
      ? (signer: Signer) => deployAuditAnchor(signer)
      : typeof options.deploy === 'function'
        ? options.deploy
        : undefined;
  const anchorer = new Anchorer({
    store,
    provider,
    chainId,
    privateKey: options.privateKey,
    contractAddress: options.contractAddress,
    deploy,
    windowMs: options.windowMs,
    maxBatchSize: options.maxBatchSize,
    chainCheckIntervalMs: options.chainCheckIntervalMs,
    backoffInitialMs: options.backoffInitialMs,
    backoffMaxMs: options.backoffMaxMs,
    logger: log,
  });

  async function current(record: StoredAnchorRecord): Promise<CurrentPayload> {
    const load = options.recordTypes[record.recordType]?.load;
    if (!load)
      return {
        found: true,
        payload: (JSON.parse(record.canonical) as { payload: unknown }).payload,
      };
    const payload = await load(options.pool, {
      recordId: record.recordId,
      sourceId: record.sourceId,
    });
    return payload === null || payload === undefined ? { found: false } : { found: true, payload };
  }

  async function views(records: StoredAnchorRecord[]): Promise<RecordAnchorView[]> {
    const batches = new Map<string, StoredAnchorBatch | null>();
    for (const id of new Set(records.map((r) => r.batchId).filter((b): b is string => !!b))) {
      batches.set(id, await store.batch(id));
    }
    return mapLimit(records, 16, async (record) =>
      verifyRecord(
        record,
        record.batchId ? (batches.get(record.batchId) ?? null) : null,
        await current(record),
        { contractAt: (address) => auditAnchorAt(address, provider) },
      ),
    );
  }

  return {
    migration: anchorMigration,
    provider,
    anchorerAddress: anchorer.address,

    async enqueue(db, input) {
      try {
        if (!options.recordTypes[input.recordType]) {
          throw new Error(`unknown record type '${input.recordType}'`);
        }
        const salt = newSalt();
        const { canonical, leaf } = computeLeaf(input, salt, SERIALIZATION_VERSION);
        const row = { ...input, version: SERIALIZATION_VERSION, salt, leaf, canonical };
        // A pool (no transaction) inserts atomically by itself; a client may be inside the
        // caller's transaction, which a failed INSERT would abort without the savepoint.
        let inTransaction = !('totalCount' in db);
        if (inTransaction) {
          try {
            await db.query('SAVEPOINT anchor_enqueue');
          } catch {
            inTransaction = false; // a client outside any transaction
          }
        }
        try {
          const inserted = await store.insertRecord(db, row);
          if (inTransaction) await db.query('RELEASE SAVEPOINT anchor_enqueue');
          return inserted;
        } catch (err) {
          if (inTransaction) await db.query('ROLLBACK TO SAVEPOINT anchor_enqueue');
          throw err;
        }
      } catch (err) {
        log?.error('could not queue a record for anchoring', {
          recordType: input.recordType,
          recordId: input.recordId,
          sourceId: input.sourceId,
          error: errorMessage(err),
        });
        return false;
      }
    },

    start: () => anchorer.start(),
    stop: () => anchorer.stop(),
    async close() {
      await anchorer.stop();
      provider.destroy();
    },

    async flush(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      await anchorer.waitForTick(timeoutMs);
      while ((await store.pendingCount()) > 0) {
        if (Date.now() > deadline) throw new Error(`anchoring not done after ${timeoutMs} ms`);
        anchorer.nudge();
        await new Promise((r) => setTimeout(r, 50));
      }
    },

    async healthCheck() {
      await checkChain(provider, chainId);
    },

    async health() {
      const status = anchorer.status();
      let chainOk = false;
      try {
        await checkChain(provider, chainId);
        chainOk = true;
      } catch {
        chainOk = false;
      }
      const pendingRecords = await store.pendingCount().catch(() => -1);
      return {
        ok: chainOk && status.consecutiveFailures === 0,
        chainId: chainOk ? chainId : null,
        writer: status.writer,
        contractAddress: status.chain?.contractAddress ?? options.contractAddress ?? null,
        pendingRecords,
        lastAnchoredAt: status.lastAnchoredAt?.toISOString() ?? null,
        lastError: status.lastError,
        consecutiveFailures: status.consecutiveFailures,
      };
    },

    status: () => anchorer.status(),

    async recordsFor(recordType, recordId) {
      return views(await store.recordsFor(recordType, recordId));
    },

    async recordsInTx(txHash) {
      const records = await store.recordsInTx(txHash);
      if (!records.length || !records[0].batchId) return null;
      const batch = await store.batch(records[0].batchId);
      if (!batch) return null;
      return {
        txHash: batch.txHash ?? txHash,
        batchId: batch.id,
        root: batch.root,
        recordCount: batch.recordCount,
        blockNumber: batch.blockNumber,
        records: await views(records),
      };
    },
  };
}
