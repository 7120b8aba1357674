import type { Statement } from '../postgres/statement';
import type { AnchorPromise, PublishedPromise } from './promise';
import type { LogSlice } from '../http/conventions';

/** Something that runs parameterised SQL: a pg Pool, or a PoolClient inside the caller's transaction. */
export interface AnchorQueryable {
  query<R extends object = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

export type AnchorBatchStatus = 'pending' | 'sent' | 'confirmed' | 'superseded';

/** An entry as queued: its leaf is fixed at enqueue time, from the document given then. */
export interface NewAnchorRecord {
  recordType: string;
  recordId: string;
  sourceId: string;
  version: number;
  salt: string;
  leaf: string;
  /** The canonical document text the leaf commits to (kept for receipts). */
  canonical: string;
  /** Its place in the record's hash chain (null for version 1 entries, made before chains). */
  sequence: number | null;
  previousLeaf: string | null;
  /** keccak256(abi.encode(recordType, recordId)): the record's key in the public log. */
  recordKey: string | null;
  /** The signed promise given at write time. */
  promise: AnchorPromise | null;
  /** W3C traceparent of the span the entry was written in (tracing on), linked by its batch's span. */
  traceparent?: string | null;
}

export interface StoredAnchorRecord extends NewAnchorRecord {
  id: string;
  createdAt: Date;
  batchId: string | null;
  proof: string[] | null;
}

/** What the writer reads of each entry of a record's chain to write the next ones. */
export interface ChainLink {
  sequence: number;
  leaf: string;
  canonical: string;
}

/** A batch as the public log shows it: no personal data, only leaves and record keys. */
export interface PublishedBatch {
  seq: number;
  batchId: string;
  onChainBatchId: string;
  root: string;
  previousRoot: string;
  recordCount: number;
  status: AnchorBatchStatus;
  chainId: number | null;
  contractAddress: string | null;
  txHash: string | null;
  blockNumber: number | null;
  leaves: { leaf: string; recordKey: string | null; sequence: number | null }[];
}

export interface ChainIdentity {
  chainId: number;
  genesisHash: string;
  contractAddress: string;
}

export interface StoredAnchorBatch {
  id: string;
  /** The bytes32 written on chain: the 16-byte batch UUID left-aligned. */
  onChainId: string;
  root: string;
  previousRoot: string;
  recordCount: number;
  status: AnchorBatchStatus;
  chainId: number | null;
  genesisHash: string | null;
  contractAddress: string | null;
  txHash: string | null;
  blockNumber: number | null;
  blockHash: string | null;
  blockTimestamp: Date | null;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
}

export interface AnchorBatchPlan {
  root: string;
  previousRoot: string;
  /** proof per record id */
  proofs: Map<string, string[]>;
}

export interface AnchorConfirmation {
  txHash: string;
  blockNumber: number;
  blockHash: string;
  blockTimestamp: Date;
}

/**
 * The anchoring store port. The Anchorer only talks to this interface; PgAnchorStore is the
 * PostgreSQL implementation. A batch is persisted (status `pending`) BEFORE its transaction is
 * sent, and its tx hash (status `sent`) before the receipt is awaited, so a crash at any point
 * is reconciled on restart.
 */
/** A page of the public log: up to `limit` positions past `after`. */
export interface LogPage {
  after: number;
  limit: number;
}

export interface AnchorStore {
  /**
   * The statement queueing an entry, for the writer to send in the caller's transaction with
   * its other statements in one round trip (writeAtCommit: a simple query, so its values must
   * all have a text form). Two entries with one (recordType, recordId, sequence) are refused
   * (unique), so a chain cannot fork.
   */
  insertRecordStatement(record: NewAnchorRecord): Statement;
  /**
   * The statement reading what the writer needs of a record's chain: each entry's sequence, leaf
   * and canonical document, in chain order, and what its rows mean. The writer reads it on every
   * anchored write (prepared, in its one round trip), so it reads no more (no promise, proof or
   * dates to send and parse).
   */
  chainStatement(recordType: string, recordId: string): Statement;
  chainFromRows(rows: unknown[]): ChainLink[];
  /** Unbatched records, oldest first. */
  oldestUnbatched(
    limit: number,
  ): Promise<{ records: StoredAnchorRecord[]; oldestAgeMs: number | null }>;
  /** Creates the batch and attaches the records and their proofs, in one transaction. */
  createBatch(
    batch: { id: string; onChainId: string; chain: ChainIdentity },
    recordIds: string[],
    plan: AnchorBatchPlan,
  ): Promise<StoredAnchorBatch>;
  unfinishedBatches(): Promise<StoredAnchorBatch[]>;
  markSent(batchId: string, txHash: string): Promise<void>;
  markConfirmed(batchId: string, confirmation: AnchorConfirmation): Promise<void>;
  markFailedAttempt(batchId: string, error: string): Promise<void>;
  /**
   * The chain lost its state (fresh chain): every batch anchored elsewhere becomes `superseded`
   * and its records return to the queue (same leaf and salt, new batch and proof).
   */
  requeueAllNotOn(chain: ChainIdentity): Promise<number>;
  /**
   * The chain lost anchors it had while keeping its identity (reverted, or restarted with the same
   * genesis and contract address): every batch becomes `superseded`, its records are queued again.
   */
  requeueAll(): Promise<number>;
  /** Root of the most recent confirmed batch, or null. */
  lastConfirmedRoot(): Promise<string | null>;
  pendingCount(): Promise<number>;
  /** A record's entries, in chain order (version 1 entries first); in `db`'s transaction if given. */
  recordsFor(
    recordType: string,
    recordId: string,
    db?: AnchorQueryable,
  ): Promise<StoredAnchorRecord[]>;
  /** What the public log holds for a record key: every (sequence, leaf) a batch anchored. */
  loggedLeaves(
    recordKey: string,
    db?: AnchorQueryable,
  ): Promise<{ sequence: number; leaf: string; batchId: string }[]>;
  recordsInTx(txHash: string): Promise<StoredAnchorRecord[]>;
  batch(id: string, db?: AnchorQueryable): Promise<StoredAnchorBatch | null>;
  /**
   * A batch that can no longer be sent as it is (its previous root is not the log's head any
   * more): superseded, its records back in the queue. Returns how many records went back.
   */
  supersedeBatch(batchId: string): Promise<number>;
  /**
   * The public log: batches oldest first (by `seq`), with their leaves and record keys. A page
   * holds at most `limit` batches and, past its first, at most LEAVES_PER_LOG_PAGE leaves.
   */
  publishedBatches(page: LogPage): Promise<LogSlice<PublishedBatch>>;
  /**
   * Every promise given, oldest first, by the position of its entry. A page reads `limit`
   * entries: one written before promises existed has none, so a page may hold fewer. Without
   * record ids: the public log names no record (PublishedPromise).
   */
  publishedPromises(page: LogPage): Promise<LogSlice<PublishedPromise>>;
  /** Most recent batches that reached a chain, newest first (for re-finding the contract). */
  latestChainIdentity(): Promise<ChainIdentity | null>;
  /** One writer per store: a session advisory lock. Resolves true while this process holds it. */
  acquireWriterLock(): Promise<boolean>;
  releaseWriterLock(): Promise<void>;
}
