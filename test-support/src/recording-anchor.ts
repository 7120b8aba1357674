import type { AnchorRecord, AnchorSink } from '@ecom/common/anchoring';

/**
 * An anchor sink that records what a service anchors, each record's payload with `seenStatus`:
 * the status of its row in `table` as read inside the caller's transaction (the status is
 * uncommitted there, so it proves the record is enqueued in the transaction of the change).
 */
export function recordingAnchor(table: string): AnchorSink & { records: AnchorRecord[] } {
  const records: AnchorRecord[] = [];
  return {
    records,
    async enqueue(client, record) {
      const { rows } = await client.query(`SELECT status FROM ${table} WHERE id = $1`, [
        record.recordId,
      ]);
      records.push({ ...record, payload: { ...record.payload, seenStatus: rows[0]?.status } });
      return true;
    },
  };
}
