import fs from 'node:fs';
import path from 'node:path';
import { BSON, type Document } from 'bson';
import type { Engine } from './engine';

const SNAPSHOT = 'snapshot.bson';
const JOURNAL = 'journal.bson';
/** Compact once the journal outgrows this, so restarts stay quick. */
const COMPACT_AT_BYTES = 64 * 1024 * 1024;

const DESERIALIZE: BSON.DeserializeOptions = { promoteLongs: true, promoteValues: true };

/**
 * Snapshot plus append-only journal, both a plain sequence of BSON change entries.
 * Each command's changes are appended (one write) before its reply is sent, so an
 * acknowledged write survives a process crash; a torn tail entry is ignored on load.
 * No fsync: a power loss may lose the last writes (see README).
 */
export class Persistence {
  private pending: Buffer[] = [];
  private journalBytes = 0;
  private fd: number | undefined;

  constructor(private readonly dir: string) {}

  /** Loads snapshot and journal into the engine, then folds them into a fresh snapshot. */
  load(engine: Engine): void {
    fs.mkdirSync(this.dir, { recursive: true });
    for (const file of [SNAPSHOT, JOURNAL]) {
      const full = path.join(this.dir, file);
      if (!fs.existsSync(full)) continue;
      for (const entry of readEntries(fs.readFileSync(full))) engine.apply(entry);
    }
    this.compact(engine);
  }

  record(change: Document): void {
    this.pending.push(Buffer.from(BSON.serialize(change)));
  }

  /** Appends this command's changes; called before the reply goes out. */
  flush(engine: Engine): void {
    if (this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    if (this.fd === undefined) this.fd = fs.openSync(path.join(this.dir, JOURNAL), 'a');
    fs.writeSync(this.fd, data);
    this.journalBytes += data.length;
    if (this.journalBytes > COMPACT_AT_BYTES) this.compact(engine);
  }

  /** Writes the whole state to a new snapshot (atomically renamed) and empties the journal. */
  compact(engine: Engine): void {
    this.pending = [];
    const tmp = path.join(this.dir, `${SNAPSHOT}.tmp`);
    const fd = fs.openSync(tmp, 'w');
    try {
      let chunk: Buffer[] = [];
      let size = 0;
      for (const entry of engine.snapshotEntries()) {
        const buf = Buffer.from(BSON.serialize(entry));
        chunk.push(buf);
        size += buf.length;
        if (size > 1024 * 1024) {
          fs.writeSync(fd, Buffer.concat(chunk));
          chunk = [];
          size = 0;
        }
      }
      if (chunk.length > 0) fs.writeSync(fd, Buffer.concat(chunk));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(this.dir, SNAPSHOT));
    if (this.fd !== undefined) fs.closeSync(this.fd);
    // Replaying the old journal over the new snapshot would be harmless (entries are idempotent).
    this.fd = fs.openSync(path.join(this.dir, JOURNAL), 'w');
    this.journalBytes = 0;
  }

  close(engine: Engine): void {
    this.compact(engine);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
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
