import { SimpleMerkleTree, StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { hexlify, randomBytes } from 'ethers';
import { canonicalDocument, documentHash, type AnchorDocument } from './canonical';

/** Domain tag inside every leaf, so a leaf of this system cannot be replayed as another's. */
export const ANCHOR_DOMAIN = 'ecom.audit-anchor';

/**
 * Leaf values, hashed by OpenZeppelin's StandardMerkleTree scheme:
 * leaf = keccak256(keccak256(abi.encode(domain, version, salt, keccak256(canonical))))
 * The double hash keeps a leaf from ever equalling an inner node (64-byte preimage).
 */
export const LEAF_ENCODING = ['string', 'uint16', 'bytes32', 'bytes32'] as const;
export type LeafValues = [string, number, string, string];

export function newSalt(): string {
  return hexlify(randomBytes(32));
}

export function leafValues(canonical: string, salt: string, version: number): LeafValues {
  return [ANCHOR_DOMAIN, version, salt, documentHash(canonical)];
}

/** The leaf hash of one record, exactly as the contract's `verify` expects it. */
export function leafHash(canonical: string, salt: string, version: number): string {
  // A one-leaf tree's root is its leaf hash: reuse the library's hashing instead of copying it.
  return StandardMerkleTree.of([leafValues(canonical, salt, version)], [...LEAF_ENCODING]).root;
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

/**
 * Builds a batch's Merkle tree over already-hashed leaves. SimpleMerkleTree hashes pairs sorted,
 * as OpenZeppelin's MerkleProof does, and takes our (already double-hashed) leaves as they are.
 */
export function buildBatchTree(leaves: string[]): BatchTree {
  const tree = SimpleMerkleTree.of(leaves);
  return { root: tree.root, proofs: leaves.map((_, i) => tree.getProof(i)) };
}

/** Off-chain check of a proof (the same rule as the contract's MerkleProof). */
export function verifyProof(leaf: string, proof: string[], root: string): boolean {
  try {
    return SimpleMerkleTree.verify(root, leaf, proof);
  } catch {
    return false; // malformed hex in a stored proof is a failed proof, not a crash
  }
}
