import fs from 'node:fs';
import path from 'node:path';
import { BSON, type Document } from 'bson';
import type { Engine } from './engine';
import { syncDirectory, writeAll } from '@ecom/common/util';

const SNAPSHOT = 'snapshot.bson';
const JOURNAL = 'journal.bson';
/** Owner read/write only: the files hold every document. */
const FILE_MODE = 0o600;
/** Compact once the journal outgrows this, so restarts stay quick. */
const COMPACT_AT_BYTES = 64 * 1024 * 1024;

const DESERIALIZE: BSON.DeserializeOptions = { promoteLongs: true, promoteValues: true };

export interface PersistenceOptions {
  /** fsync the journal after each command's append, before its reply (default true). */
  fsync?: boolean;
}

/** MONGO_STANDIN_FSYNC=false|0|off|no turns the per-commit fsync off; anything else keeps it. */
export function fsyncFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.MONGO_STANDIN_FSYNC?.trim().toLowerCase();
  return !(v === 'false' || v === '0' || v === 'off' || v === 'no');
}

/** A reply held back until the journal write it depends on is on disk. */
interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Snapshot plus append-only journal, both a plain sequence of BSON change entries.
 * Each command's changes are appended (one write, in command order) and fsync'ed before its
 * reply is sent, so an acknowledged write survives a process crash and a power loss (with
 * `fsync: false` only a process crash). A transaction's writes are one group,
 * `{ op: 'txn', n }` and its n entries, appended at its commit and replayed only when all n
 * are there; a torn tail entry (and so a torn transaction) is ignored on load.
 *
 * Group commit, as databases do it: the fsync runs off the event loop, and the writes that
 * arrive while one is in flight share the next one. Commands keep being answered meanwhile
 * (reads at once; a write once its sync is done), so one fsync costs each writer its wait,
 * not every other client a stall. As with mongod, a read may see a write whose
 * acknowledgement is still waiting for the disk.
 */
export class Persistence {
  private pending: Buffer[] = [];
  private journalBytes = 0;
  private fd: number | undefined;
  private readonly fsync: boolean;
  /** The fsync on its way, if any. */
  private inFlight: Promise<void> | undefined;
  /** Writers whose changes were written after the fsync in flight began: the next group. */
  private waiting: Waiter[] = [];
  /** A failed journal write or fsync: nothing is acknowledged any more (see commit). */
  private failure: Error | undefined;
  /** fsyncs issued, for tests and benchmarks. */
  syncs = 0;

  constructor(
    private readonly dir: string,
    options: PersistenceOptions = {},
  ) {
    this.fsync = options.fsync ?? true;
  }

  /** Loads snapshot and journal into the engine, then folds them into a fresh snapshot. */
  load(engine: Engine): void {
    // The files hold every document (password hashes among them): the owner's alone.
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(this.dir, 0o700);
    for (const file of [SNAPSHOT, JOURNAL]) {
      const full = path.join(this.dir, file);
      if (!fs.existsSync(full)) continue;
      for (const entry of wholeTransactions(readEntries(fs.readFileSync(full))))
        engine.apply(entry);
    }
    this.compact(engine);
    // Files written by an older version may be world-readable; a new file is created 0600.
    for (const file of [SNAPSHOT, JOURNAL]) {
      const full = path.join(this.dir, file);
      if (fs.existsSync(full)) fs.chmodSync(full, FILE_MODE);
    }
  }

  record(change: Document): void {
    this.pending.push(Buffer.from(BSON.serialize(change)));
  }

  /**
   * Appends this command's changes to the journal, in command order, before the next command
   * runs. Returns undefined when there is nothing to wait for (no changes, or no fsync), else
   * a promise that settles once they are on disk; it rejects after a failed write or fsync,
   * and so does every later call: a journal that may have lost an acknowledged write must
   * not acknowledge more (an fsync error cannot be retried safely).
   */
  commit(engine: Engine): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending.length === 0) return undefined;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    try {
      if (this.fd === undefined)
        this.fd = fs.openSync(path.join(this.dir, JOURNAL), 'a', FILE_MODE);
      writeAll(this.fd, data);
    } catch (err) {
      this.fail(err);
      return Promise.reject(this.failure);
    }
    this.journalBytes += data.length;
    if (!this.fsync) {
      if (!this.inFlight && this.journalBytes > COMPACT_AT_BYTES) this.compact(engine);
      return undefined;
    }
    const durable = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (!this.inFlight) this.startSync(engine);
    return durable;
  }

  /** One fsync for every write made so far; the writes after it wait for the next one. */
  private startSync(engine: Engine): void {
    const group = this.waiting;
    this.waiting = [];
    this.syncs++;
    const fd = this.fd!;
    this.inFlight = new Promise<void>((done) => {
      fs.fdatasync(fd, (err) => {
        this.inFlight = undefined;
        if (err) this.fail(err, group);
        else {
          for (const w of group) w.resolve();
          // Compaction writes (and syncs) the whole state, the waiting writes' included.
          if (this.journalBytes > COMPACT_AT_BYTES && !this.failure) this.compact(engine);
          if (this.waiting.length > 0 && !this.failure) this.startSync(engine);
        }
        done();
      });
    });
  }

  private fail(err: unknown, group: Waiter[] = []): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
    for (const w of [...group, ...this.waiting.splice(0)]) w.reject(this.failure);
  }

  /** Whether a journal write or fsync failed (the data directory can no longer be trusted). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Writes the whole state to a new snapshot (atomically renamed) and empties the journal. */
  compact(engine: Engine): void {
    this.pending = [];
    const tmp = path.join(this.dir, `${SNAPSHOT}.tmp`);
    const fd = fs.openSync(tmp, 'w', FILE_MODE);
    try {
      let chunk: Buffer[] = [];
      let size = 0;
      for (const entry of engine.snapshotEntries()) {
        const buf = Buffer.from(BSON.serialize(entry));
        chunk.push(buf);
        size += buf.length;
        if (size > 1024 * 1024) {
          writeAll(fd, Buffer.concat(chunk));
          chunk = [];
          size = 0;
        }
      }
      if (chunk.length > 0) writeAll(fd, Buffer.concat(chunk));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(this.dir, SNAPSHOT));
    if (this.fsync) syncDirectory(this.dir);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    // Replaying the old journal over the new snapshot would be harmless (entries are idempotent).
    this.fd = fs.openSync(path.join(this.dir, JOURNAL), 'w', FILE_MODE);
    this.journalBytes = 0;
    // The synced snapshot holds every change written so far.
    for (const w of this.waiting.splice(0)) w.resolve();
  }

  /** Waits for the fsync in flight, then folds everything into the snapshot (not after a failure). */
  async close(engine: Engine): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (!this.failure) this.compact(engine);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Entries in order, a transaction's only when its whole group was read (all or nothing). */
function* wholeTransactions(entries: Iterable<Document>): Generator<Document> {
  let group: Document[] | undefined;
  let expected = 0;
  for (const entry of entries) {
    if (group) {
      group.push(entry);
      if (group.length === expected) {
        yield* group;
        group = undefined;
      }
      continue;
    }
    if (entry.op === 'txn') {
      expected = Number(entry.n);
      if (expected > 0) group = [];
      continue;
    }
    yield entry;
  }
  // A group cut short (crash during its append) is dropped whole.
}

function* readEntries(buf: Buffer): Generator<Document> {
  let offset = 0;
  while (offset + 4 <= buf.length) {
    const size = buf.readInt32LE(offset);
    if (size < 5 || offset + size > buf.length) return; // torn write at the tail
    yield BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE);
    offset += size;
  }
}
