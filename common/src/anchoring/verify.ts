import { Interface, type Contract } from 'ethers';
import type { AnchorDocument } from './canonical';
import { AUDIT_ANCHOR_ABI } from './contract';
import { computeLeaf, verifyProof } from './leaf';
import type { StoredAnchorBatch, StoredAnchorRecord } from './store';

/**
 * PENDING: queued or its batch not mined yet; ANCHORED: mined, but the chain could not be asked
 * (down) or no longer holds the root (restarted, re-anchoring follows); VERIFIED: the record
 * rehashes to its leaf and the contract's `verify` returned true; TAMPERED: the record in the
 * database no longer hashes to the anchored leaf, or its proof fails. Upper case, like every
 * status the platform answers with.
 */
export type AnchorStatus = 'PENDING' | 'ANCHORED' | 'VERIFIED' | 'TAMPERED';

/** Everything needed to check one record against the chain, with no trust in this service. */
export interface AnchorReceipt {
  recordType: string;
  recordId: string;
  sourceId: string;
  serializationVersion: number;
  /** Canonical text the leaf was computed from at anchoring time. */
  canonical: string;
  salt: string;
  leaf: string;
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
  /** The one eth_call that proves it: `verify(leaf, proof, root)` on the contract. */
  verifyCall: { to: string; data: string } | null;
}

export interface RecordAnchorView {
  recordType: string;
  recordId: string;
  sourceId: string;
  status: AnchorStatus;
  /** Why a record is tampered or only anchored. */
  reason?: string;
  anchoredAt: string | null;
  receipt: AnchorReceipt;
}

const iface = new Interface(AUDIT_ANCHOR_ABI);

export function verifyCallData(leaf: string, proof: string[], root: string): string {
  return iface.encodeFunctionData('verify', [leaf, proof, root]);
}

export function buildReceipt(
  record: StoredAnchorRecord,
  batch: StoredAnchorBatch | null,
): AnchorReceipt {
  const mined = batch?.status === 'confirmed' ? batch : null;
  return {
    recordType: record.recordType,
    recordId: record.recordId,
    sourceId: record.sourceId,
    serializationVersion: record.version,
    canonical: record.canonical,
    salt: record.salt,
    leaf: record.leaf,
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
      mined && record.proof && mined.contractAddress
        ? { to: mined.contractAddress, data: verifyCallData(record.leaf, record.proof, mined.root) }
        : null,
  };
}

/** The payload as the database holds it now; null when its source row is gone. */
export type CurrentPayload = { found: true; payload: unknown } | { found: false };

export interface VerifyDeps {
  /** The AuditAnchor at the batch's address, connected to a provider. */
  contractAt(address: string): Contract;
}

/**
 * Works out a record's status: first the database (does the current payload still hash to the
 * anchored leaf?), then the chain (one eth_call to `verify`).
 */
export async function verifyRecord(
  record: StoredAnchorRecord,
  batch: StoredAnchorBatch | null,
  current: CurrentPayload,
  deps: VerifyDeps,
): Promise<RecordAnchorView> {
  const receipt = buildReceipt(record, batch);
  const view = (status: AnchorStatus, reason?: string): RecordAnchorView => ({
    recordType: record.recordType,
    recordId: record.recordId,
    sourceId: record.sourceId,
    status,
    ...(reason ? { reason } : {}),
    anchoredAt: receipt.blockTimestamp,
    receipt,
  });

  if (!current.found) return view('TAMPERED', 'the anchored row no longer exists');
  let recomputed: string;
  try {
    const doc: AnchorDocument = {
      recordType: record.recordType,
      recordId: record.recordId,
      sourceId: record.sourceId,
      payload: current.payload,
    };
    recomputed = computeLeaf(doc, record.salt, record.version).leaf;
  } catch (err) {
    return view('TAMPERED', `current record cannot be serialised: ${(err as Error).message}`);
  }
  if (recomputed !== record.leaf) return view('TAMPERED', 'record changed since it was anchored');

  if (!batch || batch.status !== 'confirmed' || !record.proof || !batch.contractAddress) {
    return view('PENDING');
  }
  if (!verifyProof(record.leaf, record.proof, batch.root)) {
    return view('TAMPERED', 'stored proof does not lead to the anchored root');
  }
  let onChain: boolean;
  try {
    onChain = (await deps
      .contractAt(batch.contractAddress)
      .verify(record.leaf, record.proof, batch.root)) as boolean;
  } catch (err) {
    return view('ANCHORED', `chain not reachable: ${(err as Error).message}`);
  }
  if (!onChain) return view('ANCHORED', 'root not found on the chain (restarted?); re-anchoring');
  return view('VERIFIED');
}
