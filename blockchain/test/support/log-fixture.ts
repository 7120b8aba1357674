/**
 * Builds real logs for the monitor's tests and the benchmark: entries per docs/verification.md
 * §1 (random documents and salts), batches anchored through the contract by a service's key,
 * the service's published view of them (§3) and its signed promises (§4).
 */
import { randomUUID } from 'node:crypto';
import { SimpleMerkleTree } from '@openzeppelin/merkle-tree';
import { hexlify, randomBytes, type Contract, type Signer } from 'ethers';
import type { PublishedBatch, PublishedLog } from '../../src/monitor';
import {
  canonicalJson,
  leafOf,
  recordKeyOf,
  signPromise,
  ZERO_HASH,
  type AnchorPromise,
  type EntryDocument,
} from '../../src/verification';

export interface Entry {
  recordType: string;
  recordId: string;
  recordKey: string;
  sequence: number;
  canonical: string;
  salt: string;
  leaf: string;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];
const amount = (): number => 100 + Math.floor(Math.random() * 100_000);
const ORDER_FLOW = ['PENDING', 'AWAITING_PAYMENT', 'PAYMENT_PROCESSING', 'CONFIRMED', 'SHIPPED'];
const PAYMENT_FLOW = ['PENDING', 'PROCESSING', 'COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'];

function orderState(orderId: string, userId: string, status: string): Record<string, unknown> {
  const quantity = 1 + Math.floor(Math.random() * 3);
  const unitPrice = amount();
  return {
    orderId,
    userId,
    status,
    currency: 'EUR',
    total: quantity * unitPrice,
    refunded: 0,
    items: [
      {
        lineNo: 1,
        productId: randomUUID(),
        name: pick(['Mug', 'Lamp', 'Kettle', 'Desk']),
        sellerId: null,
        quantity,
        unitPrice,
        lineTotal: quantity * unitPrice,
      },
    ],
    shippingAddress: { name: 'A. Buyer', line1: '1 Main St', city: 'Lyon', country: 'FR' },
    paymentMethod: 'card',
    paymentId: null,
    failureReason: null,
  };
}

function paymentState(
  paymentId: string,
  status: string,
  attempts: number,
): Record<string, unknown> {
  return {
    paymentId,
    orderId: randomUUID(),
    userId: randomUUID(),
    status,
    amount: amount(),
    refunded: 0,
    currency: 'EUR',
    method: 'card',
    chargeId: null,
    failureCode: null,
    failureReason: null,
    orderClosed: null,
    attempts,
  };
}

/** A document for entry `sequence` of a record (random content), as canonical text. */
export function entryDocument(
  recordType: string,
  recordId: string,
  sequence: number,
  previousLeaf: string,
): EntryDocument {
  const at = new Date(Date.now() + sequence * 1000).toISOString();
  if (recordType === 'order') {
    const to = ORDER_FLOW[(sequence - 1) % ORDER_FLOW.length];
    const from = sequence === 1 ? null : ORDER_FLOW[(sequence - 2) % ORDER_FLOW.length];
    return {
      v: 2,
      recordType,
      recordId,
      sequence,
      previousLeaf,
      sourceId: `history:${randomUUID()}`,
      change: { kind: 'status', from, to, at, reason: null, cause: 'test' },
      state: orderState(recordId, randomUUID(), to),
    };
  }
  return {
    v: 2,
    recordType,
    recordId,
    sequence,
    previousLeaf,
    sourceId: sequence === 1 ? 'created' : `attempt:${sequence - 1}`,
    change:
      sequence === 1
        ? { kind: 'created' }
        : { kind: 'attempt', attempt: sequence - 1, status: 'SUCCEEDED', failureCode: null, at },
    state: paymentState(recordId, PAYMENT_FLOW[(sequence - 1) % PAYMENT_FLOW.length], sequence - 1),
  };
}

/** Entry `sequence` of a record, chained to `previousLeaf`. */
export function makeEntry(
  recordType: string,
  recordId: string,
  sequence: number,
  previousLeaf: string,
): Entry {
  const canonical = canonicalJson(entryDocument(recordType, recordId, sequence, previousLeaf));
  const salt = hexlify(randomBytes(32));
  return {
    recordType,
    recordId,
    recordKey: recordKeyOf(recordType, recordId),
    sequence,
    canonical,
    salt,
    leaf: leafOf(canonical, salt, 2),
  };
}

/** `count` entries of one record, 1..count, each naming the previous one's leaf. */
export function entryChain(recordType: string, recordId: string, count: number): Entry[] {
  const entries: Entry[] = [];
  for (let s = 1; s <= count; s++) {
    entries.push(makeEntry(recordType, recordId, s, entries[s - 2]?.leaf ?? ZERO_HASH));
  }
  return entries;
}

/** What one service publishes, kept up to date as it anchors. */
export class ServiceLog implements PublishedLog {
  batches: PublishedBatch[] = [];
  promises: AnchorPromise[] = [];
  latestRoot = ZERO_HASH;

  constructor(
    readonly info: PublishedLog['info'],
    readonly signer: Signer,
    readonly contract: Contract,
  ) {}

  /**
   * Anchors `entries` as one batch from this service's key and publishes it (unless `publish`
   * is false). Returns the published batch.
   */
  async anchor(entries: Entry[], publish = true): Promise<PublishedBatch> {
    const leaves = entries.map((e) => e.leaf);
    const root = SimpleMerkleTree.of(leaves).root;
    const id = randomUUID();
    const onChainBatchId = `0x${id.replace(/-/g, '')}${'0'.repeat(32)}`;
    const previousRoot = this.latestRoot;
    const tx = (await (this.contract.connect(this.signer) as Contract).anchor(
      onChainBatchId,
      root,
      leaves.length,
      previousRoot,
    )) as { wait(): Promise<{ hash: string; blockNumber: number }> };
    const receipt = await tx.wait();
    this.latestRoot = root;
    const batch: PublishedBatch = {
      seq: this.batches.length + 1,
      batchId: id,
      onChainBatchId,
      root,
      previousRoot,
      recordCount: leaves.length,
      status: 'confirmed',
      chainId: this.info.chainId,
      contractAddress: this.info.contractAddress,
      txHash: receipt.hash,
      blockNumber: receipt.blockNumber,
      leaves: entries.map((e) => ({ leaf: e.leaf, recordKey: e.recordKey, sequence: e.sequence })),
    };
    if (publish) this.batches.push(batch);
    return batch;
  }

  /** Signs and publishes the promise of each entry, due `deadline` (Unix seconds). */
  async promise(entries: Entry[], deadline: number, publish = true): Promise<AnchorPromise[]> {
    const promises: AnchorPromise[] = [];
    for (const e of entries) {
      promises.push(
        await signPromise(this.signer, {
          chainId: this.info.chainId,
          recordType: e.recordType,
          recordId: e.recordId,
          sequence: e.sequence,
          leaf: e.leaf,
          deadline,
        }),
      );
    }
    if (publish) this.promises.push(...promises);
    return promises;
  }
}

/** The /log/info a service publishes. */
export function logInfo(
  service: string,
  anchorer: string,
  chainId: number,
  contractAddress: string,
): PublishedLog['info'] {
  return {
    service,
    recordType: service,
    anchorer,
    chainId,
    contractAddress,
    leafDomain: 'ecom.audit-anchor',
    serializationVersion: 2,
    promiseDomain: 'ecom.anchor-promise',
  };
}

/** Splits records' entries into batches in sequence order: batch i holds every entry i+1. */
export function batchesBySequence(records: Entry[][]): Entry[][] {
  const depth = Math.max(...records.map((r) => r.length));
  const out: Entry[][] = [];
  for (let s = 0; s < depth; s++) {
    const batch = records.flatMap((r) => (r[s] ? [r[s]] : []));
    if (batch.length) out.push(batch);
  }
  return out;
}
