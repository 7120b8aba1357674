import { SimpleMerkleTree } from '@openzeppelin/merkle-tree';
import { promiseSigner, recordKeyOf, type AnchorPromise } from '@ecom/blockchain/src/verification';
import type { PublishedBatch } from '@ecom/blockchain/src/monitor';
import type { ChainReader } from './chain';
import type { Check, EntryState } from './types';

const lower = (s: string | null | undefined): string => (s ?? '').toLowerCase();

/**
 * A bare signed promise (what placing an order answers): the signature, the signer's role on
 * chain, and whether the public log kept it. The log's batch is rebuilt here from its published
 * leaves and its root asked of the chain, so the log is evidence only where the chain agrees.
 */
export async function checkPromise(
  p: AnchorPromise,
  batches: PublishedBatch[],
  chain: ChainReader | null,
  contract: string | null,
  now: number,
): Promise<{ state: EntryState; checks: Check[] }> {
  const checks: Check[] = [];
  const here = 'recomputed in this browser' as const;
  const signer = promiseSigner(p);
  const signed = Boolean(signer) && lower(signer) === lower(p.signer);
  checks.push({
    name: 'signature',
    status: signed ? 'pass' : 'fail',
    detail: signed ? `recovers ${signer}` : `does not recover its signer ${p.signer}`,
    basis: here,
  });
  // A promise copied from the public log names its record by key only (its id is not signed).
  const named = typeof p.recordId === 'string' && p.recordId !== '';
  const keyOk = named && lower(p.recordKey) === recordKeyOf(p.recordType, p.recordId);
  checks.push({
    name: 'record key',
    status: !named ? 'skip' : keyOk ? 'pass' : 'fail',
    detail: !named
      ? 'no record id given (the public log names records by key only): not checked'
      : keyOk
        ? `keccak256 of ${p.recordType} ${p.recordId}`
        : 'does not hash from the record it names',
    basis: here,
  });
  let onChain = false;
  if (chain && contract && signer) {
    const role = await chain.isAnchorer(contract, signer);
    checks.push({
      name: 'signer authorised',
      status: role ? 'pass' : 'fail',
      detail: role
        ? `${signer} holds ANCHORER_ROLE on ${contract}`
        : `${signer} does not hold ANCHORER_ROLE on ${contract}`,
      basis: 'asked the chain',
    });
    const at = batches.find(
      (b) =>
        b.status === 'confirmed' &&
        b.leaves.some(
          (l) => lower(l.recordKey) === lower(p.recordKey) && l.sequence === p.sequence,
        ),
    );
    if (at) {
      const leaf = at.leaves.find(
        (l) => lower(l.recordKey) === lower(p.recordKey) && l.sequence === p.sequence,
      )!;
      const tree = SimpleMerkleTree.of(at.leaves.map((l) => l.leaf));
      const kept = lower(leaf.leaf) === lower(p.leaf);
      const rebuilt = lower(tree.root) === lower(at.root);
      const anchored =
        kept &&
        rebuilt &&
        (await chain.verify(contract, lower(p.leaf), tree.getProof(lower(p.leaf)), at.root));
      onChain = anchored;
      checks.push({
        name: 'kept in the log',
        status: anchored ? 'pass' : 'fail',
        detail: !kept
          ? `the log holds another leaf (${leaf.leaf}) for entry ${p.sequence}: the promise is broken`
          : !rebuilt
            ? `batch ${at.seq}'s published leaves do not hash to its root`
            : anchored
              ? `in batch ${at.seq}, rebuilt here; verify(leaf, proof, root) on chain returned true`
              : `batch ${at.seq}'s root is not anchored on ${contract}`,
        basis: 'asked the chain',
      });
    } else if (p.deadline < now) {
      checks.push({
        name: 'kept in the log',
        status: 'fail',
        detail: `the deadline passed and the public log holds no leaf for entry ${p.sequence}`,
        basis: 'asked the chain',
      });
    }
  }
  const failed = checks.some((c) => c.status === 'fail');
  return {
    state: failed ? 'tampered' : onChain ? 'verified' : chain ? 'pending' : 'unconfirmed',
    checks,
  };
}
