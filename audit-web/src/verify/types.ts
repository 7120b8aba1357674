import type { AnchorPromise } from '@ecom/blockchain/src/verification';

/** One entry's receipt as the record API answers it (docs/verification.md §5). */
export interface Receipt {
  recordType: string;
  recordId: string;
  sourceId?: string;
  serializationVersion?: number;
  sequence?: number | null;
  canonical: string;
  salt: string;
  leaf: string;
  recordKey?: string;
  proof?: string[] | null;
  batchId?: string | null;
  root?: string | null;
  chainId?: number | null;
  contractAddress?: string | null;
  txHash?: string | null;
  blockNumber?: number | null;
  blockTimestamp?: string | null;
  promise?: AnchorPromise | null;
}

/** What a check relied on: nothing the platform says is taken as true. */
export type CheckBasis = 'recomputed in this browser' | 'asked the chain' | 'compared with the API';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  basis: CheckBasis;
}

/**
 * verified: every check passed and the chain confirmed the root; pending: not anchored yet (its
 * promise stands, or its deadline passed: `late`); tampered: a check failed; unconfirmed: the
 * offline checks passed but the chain could not be asked.
 */
export type EntryState = 'verified' | 'pending' | 'tampered' | 'unconfirmed';

export interface EntryVerdict {
  recordType: string;
  recordId: string;
  sourceId: string;
  sequence: number | null;
  /** The leaf recomputed here (null when the canonical text cannot be read). */
  leaf: string | null;
  state: EntryState;
  late: boolean;
  /** Unix seconds, from the signed promise. */
  deadline: number | null;
  checks: Check[];
  /** The failed checks' details. */
  reasons: string[];
}

export interface RecordVerdict {
  recordType: string;
  recordId: string;
  state: EntryState;
  entries: EntryVerdict[];
  /** Checks across entries: the hash chain, the record now. */
  checks: Check[];
  reasons: string[];
}
