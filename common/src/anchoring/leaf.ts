import { randomBytes } from 'node:crypto';
import { hexlify } from 'ethers';
import { abiEncode, keccak256Bytes } from './hashing';
import { canonicalDocument, documentHash, type AnchorDocument } from './canonical';

/** Domain tag inside every leaf, so a leaf of this system cannot be replayed as another's. */
export const ANCHOR_DOMAIN = 'ecom.audit-anchor';

/**
 * Leaf values, hashed with OpenZeppelin's StandardMerkleTree leaf scheme:
 * leaf = keccak256(keccak256(abi.encode(domain, version, salt, keccak256(canonical))))
 * The double hash keeps a leaf from ever equalling an inner node (64-byte preimage).
 */
export const LEAF_ENCODING = ['string', 'uint16', 'bytes32', 'bytes32'] as const;
export type LeafValues = [string, number, string, string];

// Salts are cut from a block of random bytes drawn 128 salts at a time, as Node's randomUUID
// does: a call to the CSPRNG costs far more than 32 bytes of its output.
const SALT_BYTES = 32;
const SALT_BLOCK = SALT_BYTES * 128;
let saltBlock = Buffer.alloc(0);
let saltOffset = 0;

/** 32 random bytes (0x hex) that keep a leaf from revealing its document to a guesser. */
export function newSalt(): string {
  if (saltOffset + SALT_BYTES > saltBlock.length) {
    saltBlock = randomBytes(SALT_BLOCK);
    saltOffset = 0;
  }
  const salt = saltBlock.toString('hex', saltOffset, saltOffset + SALT_BYTES);
  // Used bytes are wiped: a salt is not left in memory beside the ones still to come.
  saltBlock.fill(0, saltOffset, saltOffset + SALT_BYTES);
  saltOffset += SALT_BYTES;
  return `0x${salt}`;
}

export function leafValues(canonical: string, salt: string, version: number): LeafValues {
  return [ANCHOR_DOMAIN, version, salt, documentHash(canonical)];
}

/**
 * The leaf hash of one record, exactly as the contract's `verify` expects it. Computed with ethers
 * (the tests check it against StandardMerkleTree.leafHash): the library validates and rebuilds a
 * tree per call, several times slower, and enqueue runs in the caller's transaction.
 */
export function leafHash(canonical: string, salt: string, version: number): string {
  const inner = keccak256Bytes(abiEncode(LEAF_ENCODING, leafValues(canonical, salt, version)));
  return keccak256Bytes(Buffer.from(inner.slice(2), 'hex'));
}

/** A record's public key in the log: keccak256(abi.encode(recordType, recordId)); no personal data. */
export function recordKey(recordType: string, recordId: string): string {
  return keccak256Bytes(abiEncode(['string', 'string'], [recordType, recordId]));
}

export interface ComputedLeaf {
  canonical: string;
  leaf: string;
}

export function computeLeaf(doc: AnchorDocument, salt: string, version: number): ComputedLeaf {
  const canonical = canonicalDocument(doc, version);
  return { canonical, leaf: leafHash(canonical, salt, version) };
}

export interface BatchTree {
  root: string;
  /** proofs[i] belongs to leaves[i] (input order is kept). */
  proofs: string[][];
}

/** Both nodes are lower-case 0x hex of 32 bytes (normalised by the callers). */
function hashPair(a: string, b: string): string {
  return keccak256Bytes(
    Buffer.from(a < b ? a.slice(2) + b.slice(2) : b.slice(2) + a.slice(2), 'hex'),
  );
}

/**
 * Builds a batch's Merkle tree over already-hashed leaves with the layout and sorted-pair hashing
 * of OpenZeppelin's merkle-tree (leaves sorted, array-backed complete binary tree), so roots equal
 * SimpleMerkleTree.of(leaves).root (checked by the tests) and proofs satisfy MerkleProof. Written
 * out because the library re-validates the tree on every getProof: O(n²) hashing for a batch.
 */
export function buildBatchTree(leaves: string[]): BatchTree {
  if (!leaves.length) throw new Error('a batch needs at least one leaf');
  const normalised = leaves.map((l) => hexlify(l).toLowerCase());
  const order = normalised
    .map((_, i) => i)
    .sort((a, b) => (normalised[a] < normalised[b] ? -1 : normalised[a] > normalised[b] ? 1 : 0));
  const n = normalised.length;
  const tree: string[] = new Array(2 * n - 1);
  const treeIndex: number[] = new Array(n);
  order.forEach((leafIndex, sortedPos) => {
    const at = tree.length - 1 - sortedPos;
    tree[at] = normalised[leafIndex];
    treeIndex[leafIndex] = at;
  });
  for (let i = tree.length - 1 - n; i >= 0; i--)
    tree[i] = hashPair(tree[2 * i + 1], tree[2 * i + 2]);
  const proofs = treeIndex.map((start) => {
    const proof: string[] = [];
    for (let j = start; j > 0; j = Math.floor((j - 1) / 2))
      proof.push(tree[j % 2 === 1 ? j + 1 : j - 1]);
    return proof;
  });
  return { root: tree[0], proofs };
}

/** Off-chain check of a proof (the same rule as the contract's MerkleProof). */
export function verifyProof(leaf: string, proof: string[], root: string): boolean {
  try {
    let node = hexlify(leaf).toLowerCase();
    for (const sibling of proof) node = hashPair(node, hexlify(sibling).toLowerCase());
    return node === hexlify(root).toLowerCase();
  } catch {
    return false; // malformed hex in a stored proof is a failed proof, not a crash
  }
}
