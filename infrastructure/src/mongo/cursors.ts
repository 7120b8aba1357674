import { BSON, Long, type Document } from 'bson';
import { MongoCommandError } from './errors';

const DEFAULT_FIRST_BATCH = 101;
// Leave room for the reply envelope under the 16 MiB document limit.
const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024;
const IDLE_TIMEOUT_MS = 10 * 60 * 1000;

interface OpenCursor {
  ns: string;
  docs: Document[];
  pos: number;
  touched: number;
}

/**
 * Server-side cursors over a result computed when the cursor opened (a snapshot:
 * later writes do not show up in its remaining batches, unlike MongoDB).
 */
export class CursorStore {
  private readonly open = new Map<string, OpenCursor>();
  private nextId = 1n;

  /** The reply of a cursor-returning command: first batch, and a cursor id if more remain. */
  first(
    ns: string,
    docs: Document[],
    batchSize: number | undefined,
    singleBatch = false,
  ): Document {
    const cursor: OpenCursor = { ns, docs, pos: 0, touched: Date.now() };
    const firstBatch = this.take(cursor, batchSize ?? DEFAULT_FIRST_BATCH);
    let id = Long.ZERO;
    if (!singleBatch && cursor.pos < docs.length) {
      id = Long.fromBigInt(this.nextId++);
      this.open.set(id.toString(), cursor);
    }
    return { cursor: { firstBatch, id, ns }, ok: 1 };
  }

  getMore(
    idValue: unknown,
    collection: string,
    dbName: string,
    batchSize: number | undefined,
  ): Document {
    const key = String(idValue);
    const cursor = this.open.get(key);
    if (!cursor) throw new MongoCommandError('CursorNotFound', `cursor id ${key} not found`);
    if (cursor.ns !== `${dbName}.${collection}` && !cursor.ns.endsWith('.$cmd.aggregate')) {
      throw new MongoCommandError(
        'BadValue',
        `Requested getMore on namespace '${dbName}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`,
      );
    }
    cursor.touched = Date.now();
    const nextBatch = this.take(cursor, batchSize ?? Infinity);
    let id = Long.fromString(key);
    if (cursor.pos >= cursor.docs.length) {
      this.open.delete(key);
      id = Long.ZERO;
    }
    return { cursor: { nextBatch, id, ns: cursor.ns }, ok: 1 };
  }

  kill(ids: unknown[]): Document {
    const cursorsKilled: Long[] = [];
    const cursorsNotFound: Long[] = [];
    for (const raw of ids) {
      const key = String(raw);
      (this.open.delete(key) ? cursorsKilled : cursorsNotFound).push(Long.fromString(key));
    }
    return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  /** Drops cursors idle longer than MongoDB's default cursor timeout. */
  reap(now = Date.now()): void {
    for (const [key, cursor] of this.open)
      if (now - cursor.touched > IDLE_TIMEOUT_MS) this.open.delete(key);
  }

  get size(): number {
    return this.open.size;
  }

  private take(cursor: OpenCursor, batchSize: number): Document[] {
    const limit = batchSize > 0 ? batchSize : Infinity;
    const out: Document[] = [];
    let bytes = 0;
    while (cursor.pos < cursor.docs.length && out.length < limit) {
      const doc = cursor.docs[cursor.pos];
      bytes += BSON.calculateObjectSize(doc);
      if (out.length > 0 && bytes > MAX_BATCH_BYTES) break;
      out.push(doc);
      cursor.pos++;
    }
    return out;
  }
}
