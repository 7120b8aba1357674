import type { PoolClient } from 'pg';

/**
 * The seam for blockchain anchoring (common/src/anchoring's `Anchoring` fits it structurally:
 * pass `createAnchoring(...)` as `anchor`). The service calls `enqueue` inside the transaction
 * that changes the record, so an anchor request exists exactly when the change commits; the
 * anchoring library batches and sends it asynchronously and never blocks or fails the saga.
 */
export interface AnchorRecord {
  /** The kind of record: 'order' (every status change) or 'payment' (completed, refunded). */
  recordType: string;
  /** The entity: order id or payment id. */
  recordId: string;
  /** The row holding this state (history row id, refund id...): unique per record type. */
  sourceId: string;
  /** The state anchored; amounts as integers (minor units) and strings only. */
  payload: Record<string, unknown>;
}

export interface AnchorSink {
  enqueue(client: PoolClient, record: AnchorRecord): Promise<unknown>;
}

/** Used when anchoring is off (no BLOCKCHAIN_RPC_URL): records nothing. */
export const noopAnchor: AnchorSink = {
  async enqueue() {
    return false;
  },
};
