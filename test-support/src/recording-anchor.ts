import {
  noopAnchor,
  pendingChanges,
  type AnchorQueryable,
  type AnchorRecordRef,
  type AnchorSink,
  type EntryDocument,
  type RecordSnapshot,
} from '@ecom/common/anchoring';

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
): AnchorSink & { entries: RecordedEntry[]; of(recordId: string): RecordedEntry[] } {
  const entries: RecordedEntry[] = [];
  const of = (recordId: string) => entries.filter((e) => e.recordId === recordId);
  return {
    entries,
    of,
    async record(client, ref: AnchorRecordRef) {
      const now = await snapshot(client, ref.recordId);
      if (!now) return [];
      const before = of(ref.recordId).map((e) => ({ ...e, previousLeaf: '' }));
      pendingChanges(before, now).forEach((c, i) =>
        entries.push({ ...ref, sequence: before.length + i + 1, ...c, state: now.state }),
      );
      return [];
    },
    // Writes go alone: the snapshot above is read after each, in the caller's transaction.
    write: noopAnchor.write,
  };
}
