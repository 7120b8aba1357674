import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { sendOn, type SendStatement, type Statement } from '../postgres/statement';
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

/**
 * What the record's writer lock and reads answered in the round trip of a write
 * (`AnchorSink.write`): `record` then needs no round trip of its own. Opaque to callers.
 */
export interface PrefetchedAnchorReads {
  readonly key: string;
  readonly rows: ReadonlyArray<{ rows: unknown[] }>;
  /** The transaction's statementsSent when they were read: any statement since voids them. */
  readonly sentAt: number;
}

export interface AnchorSink {
  /**
   * Never throws; the promises of the entries written (none when nothing changed). With
   * `prefetched` (from `write` of the same record), its reads are used instead of reading
   * again, unless anything was sent on the transaction since: `record` then reads.
   */
  record(
    client: PoolClient,
    ref: AnchorRecordRef,
    prefetched?: PrefetchedAnchorReads | null,
  ): Promise<AnchorPromise[]>;
  /**
   * Sends `statement`, one statement that writes the record, and, inside withTransaction, the
   * record's writer lock and reads after it in the same round trip. Its result is as
   * `client.query` would answer; `reads` go to `record` right after (null when they could not
   * travel with it: `record` then reads). Fails only as the statement alone would.
   */
  write<R extends QueryResultRow = QueryResultRow>(
    client: PoolClient,
    ref: AnchorRecordRef,
    statement: Statement,
  ): Promise<{ result: QueryResult<R>; reads: PrefetchedAnchorReads | null }>;
}

/** Used when anchoring is off (no BLOCKCHAIN_RPC_URL): records nothing. */
export const noopAnchor: AnchorSink = {
  async record() {
    return [];
  },
  async write<R extends QueryResultRow>(
    client: PoolClient,
    _ref: AnchorRecordRef,
    statement: Statement,
  ) {
    return { result: await sendOn(client)<R>(statement), reads: null };
  },
};

/**
 * A sender for a store's write of `ref`: the statement goes through `sink.write`, so the
 * record's lock and reads travel with it, and `reads()` gives them to `record` right after.
 */
export function anchoredWrites(
  sink: AnchorSink,
  client: PoolClient,
  ref: AnchorRecordRef,
): { send: SendStatement; reads: () => PrefetchedAnchorReads | null } {
  let reads: PrefetchedAnchorReads | null = null;
  return {
    send: async <R extends QueryResultRow = QueryResultRow>(statement: Statement) => {
      const sent = await sink.write<R>(client, ref, statement);
      reads = sent.reads;
      return sent.result;
    },
    reads: () => reads,
  };
}
