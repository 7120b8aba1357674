import type { Document } from 'bson';
import type { Collection } from './collection';

/**
 * One multi-document transaction. Its writes are applied to the collections in place, each
 * changed document remembering its committed version (`Collection.pending`), so that:
 * - the transaction reads its own writes (it sees the collections as they are);
 * - every other reader sees the committed versions (`Collection.plan` swaps them back in);
 * - abort puts the committed versions back; commit forgets them and journals `changes`
 *   as one record.
 */
export class Transaction {
  state: 'active' | 'committed' | 'aborted' = 'active';
  /** Collections holding documents it changed. */
  readonly touched = new Set<Collection>();
  /** Journal entries of its writes, appended as one record at commit. */
  readonly changes: Document[] = [];
  /** Why it was aborted (answered to its next statement). */
  abortReason?: string;
  lastUsed = Date.now();

  constructor(
    readonly sessionKey: string,
    readonly txnNumber: number,
  ) {}

  get active(): boolean {
    return this.state === 'active';
  }
}

/** How a collection learns which transaction is writing and gets another one aborted. */
export interface TransactionHooks {
  /** The transaction of the command running now, if any. */
  current(): Transaction | undefined;
  /** Aborts a transaction whose uncommitted document a write outside any transaction changes. */
  abort(txn: Transaction, reason: string): void;
}

export const NO_TRANSACTIONS: TransactionHooks = {
  current: () => undefined,
  abort: () => undefined,
};
