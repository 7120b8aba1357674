import { Interface, type Contract } from 'ethers';
import { parseCanonical, ZERO_LEAF, type EntryDocument } from './canonical';
import { AUDIT_ANCHOR_ABI } from './contract';
import { namesRow, sameContent, unnamedChanges, type RecordSnapshot } from './entries';
import { leafHash, recordKey, verifyProof } from './leaf';
import { promiseSigner, type AnchorPromise } from './promise';
import type { StoredAnchorBatch, StoredAnchorRecord } from './store';

/**
 * PENDING: not anchored yet (its promise stands); ANCHORED: mined, but the chain could not be
 * asked (down) or no longer holds the root (restarted, re-anchoring follows); VERIFIED: every
 * check passed and the contract's `verify` returned true; TAMPERED: something does not hold, the
 * reason says what. Upper case, like every status the platform answers with.
 */
export type AnchorStatus = 'PENDING' | 'ANCHORED' | 'VERIFIED' | 'TAMPERED';

/** Everything needed to check one entry against the chain, with no trust in this service. */
export interface AnchorReceipt {
  recordType: string;
  recordId: string;
  sourceId: string;
  serializationVersion: number;
  /** Its place in the record's chain (null for version 1 entries). */
  sequence: number | null;
  /** The canonical text the leaf commits to: rehash it, never trust `leaf` as given. */
  canonical: string;
  salt: string;
  /** Recomputed from `canonical` and `salt` by this service before it answered. */
  leaf: string;
  recordKey: string;
  proof: string[] | null;
  batchId: string | null;
  onChainBatchId: string | null;
  root: string | null;
  previousRoot: string | null;
  chainId: number | null;
  contractAddress: string | null;
  txHash: string | null;
  blockNumber: number | null;
  blockHash: string | null;
  blockTimestamp: string | null;
  /** The one eth_call that proves it: `verify(leaf, proof, root)`, built from the recomputed leaf. */
  verifyCall: { to: string; data: string } | null;
  /** The promise signed at write time. */
  promise: AnchorPromise | null;
}

export interface RecordAnchorView {
  recordType: string;
  recordId: string;
  sourceId: string;
  status: AnchorStatus;
  /** Why an entry is tampered or only anchored. */
  reason?: string;
  anchoredAt: string | null;
  receipt: AnchorReceipt;
}

/** A whole record: its entries, and what holds or fails across them. */
export interface RecordVerification {
  recordType: string;
  recordId: string;
  status: AnchorStatus;
  /** Why the record is tampered (empty otherwise). */
  reasons: string[];
  entries: RecordAnchorView[];
}

const iface = new Interface(AUDIT_ANCHOR_ABI);

export function verifyCallData(leaf: string, proof: string[], root: string): string {
  return iface.encodeFunctionData('verify', [leaf, proof, root]);
}

export interface VerifyDeps {
  /** The AuditAnchor at the batch's address, connected to a provider. */
  contractAt(address: string): Contract;
  /** The service's anchorer address (lower case): the only valid signer of its promises. */
  signer: string;
  /** Current time, ms (promised deadlines). */
  now: number;
}

/** Everything known about one record, read in one database snapshot. */
export interface RecordEvidence {
  recordType: string;
  recordId: string;
  /** Its entries in chain order (version 1 entries first). */
  records: StoredAnchorRecord[];
  batches: Map<string, StoredAnchorBatch | null>;
  /** The record as its tables hold it now; null when it is gone. */
  snapshot: RecordSnapshot | null;
  /** What the public log holds for its record key. */
  logged: { sequence: number; leaf: string }[];
}

/** One entry on its own: its text, its leaf, its promise, its proof, the chain. */
async function verifyEntry(
  record: StoredAnchorRecord,
  batch: StoredAnchorBatch | null,
  deps: VerifyDeps,
): Promise<{ view: RecordAnchorView; doc: EntryDocument | null; leaf: string | null }> {
  const parsed = parseCanonical(record.canonical);
  const leaf = 'error' in parsed ? null : leafHash(record.canonical, record.salt, record.version);
  const mined = batch?.status === 'confirmed' ? batch : null;
  const receipt: AnchorReceipt = {
    recordType: record.recordType,
    recordId: record.recordId,
    sourceId: record.sourceId,
    serializationVersion: record.version,
    sequence: record.sequence,
    canonical: record.canonical,
    salt: record.salt,
    leaf: leaf ?? record.leaf,
    recordKey: recordKey(record.recordType, record.recordId),
    proof: record.proof,
    batchId: batch?.id ?? null,
    onChainBatchId: batch?.onChainId ?? null,
    root: batch?.root ?? null,
    previousRoot: batch?.previousRoot ?? null,
    chainId: batch?.chainId ?? null,
    contractAddress: batch?.contractAddress ?? null,
    txHash: mined?.txHash ?? null,
    blockNumber: mined?.blockNumber ?? null,
    blockHash: mined?.blockHash ?? null,
    blockTimestamp: mined?.blockTimestamp?.toISOString() ?? null,
    verifyCall:
      mined && leaf && record.proof && mined.contractAddress
        ? { to: mined.contractAddress, data: verifyCallData(leaf, record.proof, mined.root) }
        : null,
    promise: record.promise,
  };
  const result = (status: AnchorStatus, reason?: string, doc: EntryDocument | null = null) => ({
    view: {
      recordType: record.recordType,
      recordId: record.recordId,
      sourceId: record.sourceId,
      status,
      ...(reason ? { reason } : {}),
      anchoredAt: receipt.blockTimestamp,
      receipt,
    },
    doc,
    leaf,
  });

  if ('error' in parsed) return result('TAMPERED', parsed.error);
  const doc = parsed.version === 2 ? (parsed.doc as EntryDocument) : null;
  const names =
    parsed.doc.recordType === record.recordType && parsed.doc.recordId === record.recordId;
  if (!names || parsed.doc.sourceId !== record.sourceId || parsed.version !== record.version) {
    return result('TAMPERED', 'the canonical text names another entry');
  }
  if (doc && (doc.sequence !== record.sequence || doc.previousLeaf !== record.previousLeaf)) {
    return result('TAMPERED', 'the canonical text names another place in the chain', doc);
  }
  if (leaf !== record.leaf) {
    return result('TAMPERED', 'the stored leaf is not the hash of its canonical text', doc);
  }
  if (doc) {
    const p = record.promise;
    if (!p) return result('TAMPERED', 'the promise signed at write time is gone', doc);
    if (p.leaf !== leaf || p.sequence !== doc.sequence || p.recordKey !== receipt.recordKey) {
      return result('TAMPERED', 'the entry differs from what its signed promise says', doc);
    }
    if (promiseSigner(p) !== deps.signer) {
      return result('TAMPERED', "the promise is not signed by this service's anchorer", doc);
    }
  }
  if (!batch || batch.status !== 'confirmed' || !record.proof || !batch.contractAddress) {
    const late = record.promise && record.promise.deadline * 1000 < deps.now;
    return result('PENDING', late ? 'not anchored by its promised deadline' : undefined, doc);
  }
  if (!verifyProof(leaf, record.proof, batch.root)) {
    return result('TAMPERED', 'the stored proof does not lead to the anchored root', doc);
  }
  let onChain: boolean;
  try {
    onChain = (await deps
      .contractAt(batch.contractAddress)
      .verify(leaf, record.proof, batch.root)) as boolean;
  } catch (err) {
    return result('ANCHORED', `chain not reachable: ${(err as Error).message}`, doc);
  }
  if (!onChain) {
    return result('ANCHORED', 'root not found on the chain (restarted?); re-anchoring', doc);
  }
  return result('VERIFIED', undefined, doc);
}

/**
 * Verifies a record: each entry on its own (verifyEntry), then across them: the hash chain
 * (sequences 1..n, each naming the previous leaf), each entry's state against the one before
 * it (the fields that differ are exactly those it names: unnamedChanges), the public log (every leaf it holds for the
 * record is the entry's leaf at that sequence), and the live rows against the entries (the
 * newest `state` is the record now; each change row's content is that of the newest entry
 * naming it; no entry names a row that is gone). Entries made before records were chained
 * (version 1) are checked on their own only.
 */
export async function verifyRecordEntries(
  evidence: RecordEvidence,
  deps: VerifyDeps,
): Promise<RecordVerification> {
  const { recordType, recordId, records, batches, snapshot, logged } = evidence;
  const checked = [];
  for (const r of records) {
    checked.push(await verifyEntry(r, r.batchId ? (batches.get(r.batchId) ?? null) : null, deps));
  }
  const reasons: string[] = [];
  const chained = checked.filter((c) => c.view.receipt.serializationVersion === 2);
  chained.forEach((c, i) => {
    const expected = i === 0 ? ZERO_LEAF : chained[i - 1]!.leaf;
    if (c.view.receipt.sequence !== i + 1) {
      reasons.push(`entry ${i + 1} is missing (found sequence ${c.view.receipt.sequence})`);
    } else if (c.doc && c.doc.previousLeaf !== expected) {
      reasons.push(`entry ${i + 1} does not follow entry ${i}`);
    }
  });
  // Each entry's state differs from the one before it exactly in the fields it names.
  let named = false;
  chained.forEach((c, i) => {
    const previous = i > 0 ? chained[i - 1]!.doc : null;
    if (previous && c.doc && c.doc.sequence === i + 1) {
      reasons.push(...unnamedChanges(previous, c.doc, named));
    }
    if (c.doc?.fields !== undefined) named = true;
  });
  const bySequence = new Map(chained.map((c) => [c.view.receipt.sequence, c]));
  for (const l of logged) {
    const entry = bySequence.get(l.sequence);
    if (!entry) reasons.push(`entry ${l.sequence} is in the public log but gone`);
    else if (entry.leaf !== l.leaf) {
      reasons.push(`entry ${l.sequence} differs from the leaf the public log holds for it`);
    }
  }
  const legacyOnly = checked.length > 0 && chained.length === 0;
  if (!legacyOnly) {
    if (!snapshot) {
      if (chained.length) reasons.push('the record no longer exists');
    } else if (!chained.length) {
      reasons.push('the record exists but no entry of it was anchored');
    } else {
      const newest = chained[chained.length - 1]!.doc;
      if (newest && !sameContent(newest.state, snapshot.state)) {
        reasons.push('the record changed without a new entry');
      }
      const newestBySource = new Map<string, EntryDocument>();
      for (const c of chained) if (c.doc) newestBySource.set(c.doc.sourceId, c.doc);
      for (const [sourceId, content] of Object.entries(snapshot.rows)) {
        const doc = newestBySource.get(sourceId);
        if (!doc) reasons.push(`change ${sourceId} has no entry`);
        else if (!sameContent(doc.change, content)) {
          reasons.push(`change ${sourceId} differs from its entry`);
        }
      }
      for (const sourceId of newestBySource.keys()) {
        if (namesRow(sourceId) && !(sourceId in snapshot.rows)) {
          reasons.push(`change ${sourceId} is gone`);
        }
      }
    }
  }
  const views = checked.map((c) => c.view);
  for (const v of views) {
    if (v.status === 'TAMPERED' && v.reason) reasons.push(`${v.sourceId}: ${v.reason}`);
  }
  const status: AnchorStatus = reasons.length
    ? 'TAMPERED'
    : views.some((v) => v.status === 'PENDING')
      ? 'PENDING'
      : views.some((v) => v.status === 'ANCHORED')
        ? 'ANCHORED'
        : 'VERIFIED';
  return { recordType, recordId, status, reasons, entries: views };
}
