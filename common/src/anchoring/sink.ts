import type { PoolClient } from 'pg';
import type { AnchorPromise } from './promise';

/**
 * The seam for blockchain anchoring (common/src/anchoring's `Anchoring` fits it structurally).
 * After every write of an anchored record the service calls `record` in the same transaction:
 * the entries describing the change exist exactly when the change commits, each with the
 * promise signed at write time. Anchoring then batches and sends them in the background and
 * never blocks or fails the saga.
 */
export interface AnchorRecordRef {
  /** The kind of record: 'order' or 'payment'. */
  recordType: string;
  /** The entity: order id or payment id. */
  recordId: string;
}

export interface AnchorSink {
  /** Never throws; the promises of the entries written (none when nothing changed). */
  record(client: PoolClient, ref: AnchorRecordRef): Promise<AnchorPromise[]>;
}

/** Used when anchoring is off (no BLOCKCHAIN_RPC_URL): records nothing. */
export const noopAnchor: AnchorSink = {
  async record() {
    return [];
  },
};
