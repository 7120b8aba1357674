import {
  DatabaseError,
  type Pool,
  type PoolClient,
  type QueryResult,
  type QueryResultRow,
} from 'pg';
import { onceMoreIfMended, PreparedQuery, sendTogether, simpleText } from '../postgres/prepared';
import { sendOn, type Statement } from '../postgres/statement';
import { Wallet, type JsonRpcProvider, type Signer } from 'ethers';
import type { Migration } from '../postgres/migrations';
import {
  sendQueuedWrites,
  statementsSent,
  transactionPool,
  writeAtCommit,
} from '../postgres/transaction';
import { currentTraceparent } from '../tracing/event-spans';
import { Anchorer, type AnchorLogger, type AnchorerStatus } from './anchorer';
import { SERIALIZATION_VERSION, storedDocument, ZERO_LEAF, type EntryDocument } from './canonical';
import { checkChain, createChainProvider } from './chain';
import { auditAnchorAt, deployAuditAnchor } from './contract';
import { pendingChanges, type ChangeRules, type RecordSnapshot } from './entries';
import type { AnchorRecordRef, AnchorSink, PrefetchedAnchorReads } from './sink';
import { computeLeaf, newSalt, recordKey, ANCHOR_DOMAIN } from './leaf';
import { PgAnchorStore, anchorMigrations } from './pg-store';
import { PROMISE_DOMAIN, signPromise, type AnchorPromise } from './promise';
import type { AnchorStore, AnchorQueryable, ChainLink, StoredAnchorBatch } from './store';
import {
  verifyRecordEntries,
  type RecordAnchorView,
  type RecordVerification,
  type VerifyDeps,
} from './verify';

/** One kind of anchored record, e.g. `order` or `payment`. */
export interface RecordTypeConfig {
  /**
   * The one statement reading the record as the service's tables hold it now: every business
   * field and each row holding a change. Entries are written from it, and verification compares
   * it with the entries, so an edit made directly in the database shows as TAMPERED.
   * `recordId` is SQL: `$1` (the statement is prepared on each connection, ADR 0048), so the
   * text must not vary with the record.
   */
  snapshotSql(recordId: string): string;
  /** The record from the statement's rows; null when there is no such record. */
  snapshotFrom(rows: unknown[]): RecordSnapshot | null;
  /**
   * Which state fields each kind of change row explains (ADR 0058); the rest of a write's
   * change gets a `state` entry of its own. Each service declares its own (order-record.ts,
   * payment-record.ts); without them the rows explain every change (named in the entry's
   * `fields` all the same).
   */
  changes?: ChangeRules;
}

/** Reads a record's snapshot (see RecordTypeConfig). */
export async function readSnapshot(
  config: RecordTypeConfig,
  db: AnchorQueryable,
  recordId: string,
): Promise<RecordSnapshot | null> {
  const { rows } = await db.query(config.snapshotSql('$1'), [recordId]);
  return config.snapshotFrom(rows);
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
  /** How long after a write its signed promise says it will be anchored. Default 600 s. */
  promiseSeconds?: number;
  windowMs?: number;
  maxBatchSize?: number;
  /**
   * Write each entry's `fields` (ADR 0058; default true). False while replicas from before the
   * rule still run: they cannot read an entry that has them (ANCHOR_NAME_FIELDS).
   */
  nameFields?: boolean;
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
  /** The entries of this batch, each with its record's verdict (a tampered record taints them). */
  records: RecordAnchorView[];
}

/** What a third party needs to replay the service's public log (docs/verification.md §3). */
export interface AnchorLogInfo {
  recordType: string;
  /** The only address whose anchors and promises are this service's. */
  anchorer: string;
  chainId: number;
  contractAddress: string | null;
  leafDomain: string;
  serializationVersion: number;
  promiseDomain: string;
}

export interface Anchoring {
  /** The SQL migrations of the anchor tables; add them to the service's list. */
  readonly migrations: Migration[];
  readonly provider: JsonRpcProvider;
  /** The anchorer address, lower case: it signs the batches and the promises. */
  readonly anchorerAddress: string;
  /**
   * Brings a record's hash chain up to date with its rows, in the caller's transaction (a
   * SAVEPOINT keeps a failed read from aborting it): one entry per change row that is new or
   * changed, preceded by a `state` entry for any change of the record's fields those rows do
   * not explain (ADR 0058), else one for a change of the record's own fields, each naming the
   * fields it changes and with its signed promise.
   * Call it after every write of the record. Inside withTransaction the entries are written with
   * its COMMIT. Never throws: returns the promises of the entries written (none when nothing
   * changed, or when they could not be computed: logged).
   */
  record(
    db: AnchorQueryable,
    ref: AnchorRecordRef,
    prefetched?: PrefetchedAnchorReads | null,
  ): Promise<AnchorPromise[]>;
  /** See AnchorSink.write: a write with the record's lock and reads in its round trip. */
  write: AnchorSink['write'];
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
  /** A record's entries and the verdict on them, everything recomputed. */
  recordsFor(recordType: string, recordId: string): Promise<RecordVerification>;
  /** What a transaction anchored, each record re-checked; null when no batch of ours has it. */
  /**
   * The batch sent in `txHash`, verified; with `only`, only the records it keeps are verified
   * and answered (a caller's own: verifying everyone's would cost the whole batch per request).
   */
  recordsInTx(
    txHash: string,
    only?: (recordIds: string[]) => Promise<Set<string>>,
  ): Promise<TxAnchorView | null>;
  logInfo(recordType: string): AnchorLogInfo;
  /** The public log: every batch with its leaves, record keys and sequences; no personal data. */
  publishedLog: AnchorStore['publishedBatches'];
  /** Every promise signed, oldest first. */
  publishedPromises: AnchorStore['publishedPromises'];
}

/** The name of a record's writer lock: one writer per record at a time. */
const writerKey = (ref: AnchorRecordRef) => `anchor:${ref.recordType}:${ref.recordId}`;

/** The record's writer lock, held until the transaction ends. */
const writerLock = (key: string): Statement => ({
  text: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  values: [key],
});

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

  const wallet = new Wallet(options.privateKey);
  const signer = wallet.address.toLowerCase();
  const promiseSeconds = options.promiseSeconds ?? 600;
  const nameFields = options.nameFields ?? true;
  const verifyDeps = (): VerifyDeps => ({
    contractAt: (address) => auditAnchorAt(address, provider),
    signer,
    now: Date.now(),
  });

  function recordType(name: string): RecordTypeConfig {
    const config = options.recordTypes[name];
    if (!config) throw new Error(`unknown record type '${name}'`);
    return config;
  }

  /** Prefetched reads already used by a `record`. */
  const spentReads = new WeakSet<PrefetchedAnchorReads>();

  /**
   * Runs `fn` in a transaction, `db`'s own (under a savepoint) or one opened on the pool, holding
   * the record's writer lock until that transaction ends: one writer per record at a time, so
   * two transactions cannot both take the next sequence. This runs on every anchored write, so
   * its round trips are counted: opening, locking and the `reads` (each statement after the lock
   * sees what the last writer committed) travel together. Inside withTransaction that is all:
   * the savepoint is released with the reads, and the statements fn returns ride the caller's
   * COMMIT (they commit with the change they anchor, or not at all). Elsewhere they go with the
   * closing, a second round trip. Simple queries: the reads go as EXECUTE of statements
   * prepared on the connection, or written out with literals (prepared.ts).
   */
  async function inLockedTransaction<T>(
    db: AnchorQueryable,
    ref: AnchorRecordRef,
    reads: Statement[],
    fn: (read: ReadonlyArray<{ rows: unknown[] }>) => { out: T; writes: Statement[] },
    prefetched?: PrefetchedAnchorReads | null,
  ): Promise<T> {
    const key = writerKey(ref);
    const lock = writerLock(key);
    if (
      prefetched?.key === key &&
      !spentReads.has(prefetched) &&
      !('totalCount' in db) &&
      statementsSent(db as PoolClient) === prefetched.sentAt
    ) {
      // The lock is held and the reads were made in the write's round trip (write below), and
      // nothing was sent on the transaction since: they still show what it wrote. Once only:
      // the entries written from them are queued, not in the chain the reads show.
      spentReads.add(prefetched);
      const client = db as PoolClient;
      const { out, writes } = fn(prefetched.rows);
      for (const w of writes) await writeAtCommit(client, w, key);
      return out;
    }
    const readLocked = async (tx: PoolClient, open: string, close: string[]) => {
      const send = () => {
        const prepared = new PreparedQuery(tx);
        const texts = [lock, ...reads].map((r) => simpleText(prepared, r));
        if (texts.some((t) => t === null)) throw new Error('anchoring: a read cannot be sent');
        return prepared.sent(tx.query(prepared.query([open, ...(texts as string[]), ...close])));
      };
      // A prepared statement that could not serve (its table changed under `SELECT *`, it was
      // deallocated, a shared session had its name): mended, the reads go once more, so the
      // change still gets its entries in this transaction.
      const results = await onceMoreIfMended(send, () =>
        tx.query(open === 'BEGIN' ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT anchor_record`),
      );
      return fn(results.slice(2, 2 + reads.length));
    };
    if ('totalCount' in db) {
      const client: PoolClient = await (db as Pool).connect();
      try {
        const { out, writes } = await readLocked(client, 'BEGIN', []);
        await sendTogether(client, [...writes, 'COMMIT']);
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    }
    const client = db as PoolClient;
    const atCommit = transactionPool(client) !== undefined;
    // A failed statement aborts the caller's transaction; the savepoint undoes only ours.
    try {
      // This record's entries queued earlier in the transaction must be in the chain it reads.
      if (atCommit) await sendQueuedWrites(client, key);
      const release = 'RELEASE SAVEPOINT anchor_record';
      const { out, writes } = await readLocked(
        client,
        'SAVEPOINT anchor_record',
        atCommit ? [release] : [],
      );
      if (atCommit) {
        for (const w of writes) await writeAtCommit(client, w, key);
      } else await sendTogether(client, [...writes, release]);
      return out;
    } catch (err) {
      // Fails too when the savepoint was never made (the caller's transaction had already
      // failed); the first error is the one worth logging.
      await client.query('ROLLBACK TO SAVEPOINT anchor_record').catch(() => undefined);
      throw err;
    }
  }

  /**
   * The entries of a record, read back as documents, in chain order (shared with later reads:
   * not to be changed). A text that is not canonical is left out.
   */
  function chainDocuments(links: ChainLink[]): EntryDocument[] {
    return links.flatMap((r) => {
      const doc = storedDocument(r.canonical);
      return doc ? [doc as EntryDocument] : [];
    });
  }

  /**
   * Brings the record's chain up to date with its snapshot: reads both under the record's
   * writer lock, then queues one entry per change, each with its signed promise.
   */
  function writeEntries(
    db: AnchorQueryable,
    ref: AnchorRecordRef,
    prefetched?: PrefetchedAnchorReads | null,
  ): Promise<AnchorPromise[]> {
    const type = recordType(ref.recordType);
    return inLockedTransaction(
      db,
      ref,
      lockedReads(ref),
      ([snapshotRead, recordsRead]) => {
        const snapshot = type.snapshotFrom(snapshotRead!.rows);
        if (!snapshot) return { out: [], writes: [] };
        return entriesFor(ref, snapshot, store.chainFromRows(recordsRead!.rows), type.changes);
      },
      prefetched,
    );
  }

  /** What an anchored write reads under the record's lock: its snapshot, then its chain. */
  function lockedReads(ref: AnchorRecordRef): Statement[] {
    return [
      { text: recordType(ref.recordType).snapshotSql('$1'), values: [ref.recordId] },
      store.chainStatement(ref.recordType, ref.recordId),
    ];
  }

  /**
   * `statement` with the record's lock and reads after it, in one simple query inside a savepoint:
   * `record` then takes the reads instead of a round trip of its own. Each statement goes as
   * EXECUTE of its prepared form, or written out with its values as literals (prepared.ts,
   * inlineParameters). Outside withTransaction, or when the values have no text form, the
   * statement goes alone and `record` reads as before. The first time a connection prepares a
   * statement that opens a transaction, BEGIN goes alone before it (a text with `$n` in it
   * cannot be written in): one round trip more, once per text and connection.
   */
  async function writeWithReads<R extends QueryResultRow>(
    client: PoolClient,
    ref: AnchorRecordRef,
    statement: Statement,
  ): Promise<{ result: QueryResult<R>; reads: PrefetchedAnchorReads | null }> {
    const alone = async () => ({ result: await sendOn(client)<R>(statement), reads: null });
    if (transactionPool(client) === undefined || !options.recordTypes[ref.recordType])
      return alone();
    const key = writerKey(ref);
    // This record's entries queued earlier in the transaction must be in the chain it reads.
    await sendQueuedWrites(client, key);
    // Built right before they go: nothing else is sent on the client in between, so what the
    // texts assume the connection has prepared still holds when they arrive.
    const prepared = new PreparedQuery(client);
    const texts = [statement, writerLock(key), ...lockedReads(ref)].map((s) =>
      simpleText(prepared, s),
    );
    if (texts.some((t) => t === null)) return alone();
    const [write, lock, ...reads] = texts as string[];
    const sql = prepared.query([
      'SAVEPOINT anchor_write',
      write,
      lock,
      ...reads,
      'RELEASE SAVEPOINT anchor_write',
    ]);
    let results: Array<QueryResult<R>>;
    try {
      results = (await prepared.sent(client.query(sql))) as Array<QueryResult<R>>;
    } catch (err) {
      // Not the server's answer (a lost connection; the transaction's own check of what came
      // with BEGIN, which must fail the write): the error stands.
      if (!(err instanceof DatabaseError)) throw err;
      // A failed statement fails the whole query, so which one failed is not known: the
      // savepoint undoes the write with the reads, and the write goes again alone, so that its
      // own error, if it has one, is the one the caller sees. Without the savepoint (the
      // transaction had failed before) the error stands.
      try {
        await client.query('ROLLBACK TO SAVEPOINT anchor_write');
      } catch {
        throw err;
      }
      return alone();
    }
    return {
      result: results[1]!,
      reads: { key, rows: results.slice(3, 3 + reads.length), sentAt: statementsSent(client)! },
    };
  }

  /** The entries (as statements) and promises that bring `existing` up to `snapshot`. */
  function entriesFor(
    ref: AnchorRecordRef,
    snapshot: RecordSnapshot,
    existing: ChainLink[],
    rules: ChangeRules | undefined,
  ): { out: AnchorPromise[]; writes: Statement[] } {
    const changes = pendingChanges(chainDocuments(existing), snapshot, rules);
    const key = recordKey(ref.recordType, ref.recordId);
    const last = existing[existing.length - 1];
    let sequence = last?.sequence ?? 0;
    let previousLeaf = last?.leaf ?? ZERO_LEAF;
    const promises: AnchorPromise[] = [];
    const writes: Statement[] = [];
    for (const change of changes) {
      sequence += 1;
      const doc: EntryDocument = {
        ...ref,
        sequence,
        previousLeaf,
        sourceId: change.sourceId,
        change: change.change,
        state: change.state,
        ...(nameFields && change.fields ? { fields: change.fields } : {}),
      };
      const salt = newSalt();
      const { canonical, leaf } = computeLeaf(doc, salt, SERIALIZATION_VERSION);
      const promise = signPromise(wallet, {
        chainId,
        recordType: ref.recordType,
        recordId: ref.recordId,
        recordKey: key,
        sequence,
        leaf,
        deadline: Math.floor(Date.now() / 1000) + promiseSeconds,
      });
      writes.push(
        store.insertRecordStatement({
          ...ref,
          sourceId: change.sourceId,
          version: SERIALIZATION_VERSION,
          salt,
          leaf,
          canonical,
          sequence,
          previousLeaf,
          recordKey: key,
          promise,
          traceparent: currentTraceparent(),
        }),
      );
      promises.push(promise);
      previousLeaf = leaf;
    }
    return { out: promises, writes };
  }

  /** Reads everything about a record in one snapshot, so a write in between cannot look like tampering. */
  async function evidenceFor(type: string, recordId: string) {
    const client = await options.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const records = await store.recordsFor(type, recordId, client);
      const batches = new Map<string, StoredAnchorBatch | null>();
      for (const id of new Set(records.map((r) => r.batchId).filter((b): b is string => !!b))) {
        batches.set(id, await store.batch(id, client));
      }
      const snapshot = await readSnapshot(recordType(type), client, recordId);
      const logged = await store.loggedLeaves(recordKey(type, recordId), client);
      await client.query('COMMIT');
      return { recordType: type, recordId, records, batches, snapshot, logged };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async function verify(type: string, recordId: string): Promise<RecordVerification> {
    return verifyRecordEntries(await evidenceFor(type, recordId), verifyDeps());
  }

  return {
    migrations: anchorMigrations,
    provider,
    anchorerAddress: signer,

    write: writeWithReads,

    async record(db, ref, prefetched) {
      try {
        return await writeEntries(db, ref, prefetched);
      } catch (err) {
        log?.error('could not write the anchor entries of a record', {
          ...ref,
          error: errorMessage(err),
        });
        return [];
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

    recordsFor: (type, recordId) => verify(type, recordId),

    async recordsInTx(txHash, only) {
      const records = await store.recordsInTx(txHash);
      if (!records.length || !records[0].batchId) return null;
      const batch = await store.batch(records[0].batchId);
      if (!batch) return null;
      let keys = [...new Map(records.map((r) => [`${r.recordType}/${r.recordId}`, r])).values()];
      if (only) {
        const kept = await only([...new Set(keys.map((r) => r.recordId))]);
        keys = keys.filter((r) => kept.has(r.recordId));
      }
      const verdicts = await mapLimit(keys, 8, (r) => verify(r.recordType, r.recordId));
      return {
        txHash: batch.txHash ?? txHash,
        batchId: batch.id,
        root: batch.root,
        recordCount: batch.recordCount,
        blockNumber: batch.blockNumber,
        records: verdicts.flatMap((v) =>
          v.entries
            .filter((e) => e.receipt.batchId === batch.id)
            .map((e) =>
              v.status === 'TAMPERED' && e.status !== 'TAMPERED'
                ? { ...e, status: 'TAMPERED' as const, reason: v.reasons.join('; ') }
                : e,
            ),
        ),
      };
    },

    logInfo: (type) => ({
      recordType: type,
      anchorer: signer,
      chainId,
      contractAddress: anchorer.status().chain?.contractAddress ?? options.contractAddress ?? null,
      leafDomain: ANCHOR_DOMAIN,
      serializationVersion: SERIALIZATION_VERSION,
      promiseDomain: PROMISE_DOMAIN,
    }),
    publishedLog: (page) => store.publishedBatches(page),
    publishedPromises: (page) => store.publishedPromises(page),
  };
}
