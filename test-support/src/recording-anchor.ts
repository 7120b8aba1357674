import {
  noopAnchor,
  pendingChanges,
  type AnchorQueryable,
  type AnchorRecordRef,
  type AnchorSink,
  type EntryDocument,
  type PrefetchedAnchorReads,
  type RecordSnapshot,
} from '@ecom/common/anchoring';
import type { Statement } from '@ecom/common/postgres';
import type { PoolClient, QueryResultRow } from 'pg';

/** An entry as the recording anchor keeps it: what anchoring would hash, with no chain. */
export type RecordedEntry = Omit<EntryDocument, 'previousLeaf'>;

/**
 * An anchor sink that records the entries a service's writes produce, with the real rule of
 * what makes an entry (pendingChanges over the service's own snapshot), but no hashing, key or
 * chain. The snapshot is read with the caller's client, inside its transaction: an entry's
 * `state` shows the change before it commits, which proves entries are written in the
 * transaction of the change.
 */
export function recordingAnchor(
  snapshot: (db: AnchorQueryable, recordId: string) => Promise<RecordSnapshot | null>,
): AnchorSink & {
  entries: RecordedEntry[];
  of(recordId: string): RecordedEntry[];
  /** The statements sent through `write`, and the reads each `record` was handed. */
  calls: AnchorCalls;
} {
  const entries: RecordedEntry[] = [];
  const of = (recordId: string) => entries.filter((e) => e.recordId === recordId);
  const calls: AnchorCalls = { writes: [], records: [] };
  return {
    entries,
    of,
    calls,
    async record(client, ref: AnchorRecordRef, prefetched) {
      calls.records.push({ ref, prefetched });
      const now = await snapshot(client, ref.recordId);
      if (!now) return [];
      const before = of(ref.recordId).map((e) => ({ ...e, previousLeaf: '' }));
      pendingChanges(before, now).forEach((c, i) =>
        entries.push({ ...ref, sequence: before.length + i + 1, ...c, state: now.state }),
      );
      return [];
    },
    // Writes go alone: the snapshot above is read after each, in the caller's transaction.
    // Each answers reads of its own (empty, never used here), so a test can see that the
    // reads of a write reach `record`.
    async write<R extends QueryResultRow>(
      client: PoolClient,
      ref: AnchorRecordRef,
      statement: Statement,
    ) {
      const { result } = await noopAnchor.write<R>(client, ref, statement);
      const reads: PrefetchedAnchorReads = {
        key: `recording:${ref.recordId}`,
        rows: [],
        sentAt: -1,
      };
      calls.writes.push({ ref, text: statement.text, reads });
      return { result, reads };
    },
  };
}

/** What a recording anchor was asked: each write, and each record with the reads it got. */
export interface AnchorCalls {
  writes: Array<{ ref: AnchorRecordRef; text: string; reads: PrefetchedAnchorReads }>;
  records: Array<{ ref: AnchorRecordRef; prefetched?: PrefetchedAnchorReads | null }>;
}
