import { expect } from 'chai';
import { ethers } from 'hardhat';
import { SimpleMerkleTree, StandardMerkleTree } from '@openzeppelin/merkle-tree';
import {
  canonicalJson,
  checkEntries,
  documentHash,
  leafOf,
  signPromise,
  ZERO_HASH,
  type EntryReceipt,
} from '../src/verification';
import { entryChain, type Entry } from './support/log-fixture';

const ID = '6f1c1a52-6d55-4c1e-9a43-0e4d0b1c2d3e';

/** Entries as a record API answers them: anchored in one batch, each with its promise. */
async function receipts(entries: Entry[]): Promise<EntryReceipt[]> {
  const [, signer] = await ethers.getSigners();
  const tree = SimpleMerkleTree.of(entries.map((e) => e.leaf));
  return Promise.all(
    entries.map(async (e, i) => ({
      canonical: e.canonical,
      salt: e.salt,
      leaf: e.leaf,
      proof: tree.getProof(i),
      root: tree.root,
      promise: await signPromise(signer, { ...e, chainId: 31337, deadline: 2_000_000_000 }),
    })),
  );
}

describe('independent entry checks (src/verification.ts, used by lookup-order/-payment)', () => {
  it('leaves are OpenZeppelin standard leaves over (domain, version, salt, documentHash)', () => {
    const canonical = canonicalJson({ v: 1, recordType: 'order', recordId: ID, payload: { a: 1 } });
    const salt = ethers.hexlify(ethers.randomBytes(32));
    for (const v of [1, 2]) {
      const values = ['ecom.audit-anchor', v, salt, documentHash(canonical)];
      const standard = StandardMerkleTree.of([values], ['string', 'uint16', 'bytes32', 'bytes32']);
      expect(leafOf(canonical, salt, v)).to.equal(standard.leafHash(values));
    }
    expect(canonical).to.equal(`{"payload":{"a":1},"recordId":"${ID}","recordType":"order","v":1}`);
  });

  it('passes a genuine record: leaves recomputed, chain 1..n, proofs, promises', async () => {
    const [, signer] = await ethers.getSigners();
    const checks = checkEntries('order', ID, await receipts(entryChain('order', ID, 3)), [
      signer.address,
    ]);
    expect(checks.map((c) => c.problems)).to.deep.equal([[], [], []]);
    expect(checks.map((c) => c.sequence)).to.deep.equal([1, 2, 3]);
  });

  it('never trusts the leaf given: an edited canonical text or salt fails', async () => {
    const entries = await receipts(entryChain('order', ID, 2));
    entries[0].canonical = entries[0].canonical.replace('"EUR"', '"USD"');
    entries[1].salt = ethers.hexlify(ethers.randomBytes(32));
    const checks = checkEntries('order', ID, entries);
    expect(checks[0].problems[0]).to.equal('canonical text and salt do not hash to the leaf given');
    expect(checks[1].problems).to.include('canonical text and salt do not hash to the leaf given');
  });

  it('refuses a text that is not canonical and an entry of another record', async () => {
    const entries = await receipts(entryChain('order', ID, 1));
    const spaced = [{ ...entries[0], canonical: entries[0].canonical.replace(',', ', ') }];
    expect(checkEntries('order', ID, spaced)[0].problems).to.deep.equal([
      'canonical text: not in canonical form',
    ]);
    expect(checkEntries('order', ethers.ZeroHash, entries)[0].problems[0]).to.match(
      /^entry names order\//,
    );
  });

  it('breaks the chain on a missing entry or a wrong previousLeaf', async () => {
    const entries = await receipts(entryChain('order', ID, 3));
    expect(checkEntries('order', ID, [entries[0], entries[2]])[1].problems).to.deep.equal([
      'sequence 3 where 2 was due',
      "previousLeaf is not the previous entry's leaf",
    ]);
    const other = await receipts(entryChain('order', ID, 2));
    expect(checkEntries('order', ID, [entries[0], other[1]])[1].problems).to.deep.equal([
      "previousLeaf is not the previous entry's leaf",
    ]);
  });

  it('checks the proof and the promise (signer, leaf, sequence)', async () => {
    const [, signer, other] = await ethers.getSigners();
    const entries = await receipts(entryChain('payment', ID, 2));
    entries[0].proof = [ethers.ZeroHash];
    entries[1].promise = { ...entries[1].promise!, sequence: 1 };
    const checks = checkEntries('payment', ID, entries, [signer.address]);
    expect(checks[0].problems).to.deep.equal(['proof does not lead from the leaf to the root']);
    expect(checks[1].problems[0]).to.match(/^promise signed by 0x/);
    expect(checks[1].problems).to.include('promise is for another sequence');
    const unpublished = checkEntries('payment', ID, await receipts(entryChain('payment', ID, 1)), [
      other.address,
    ]);
    expect(unpublished[0].problems[0]).to.match(/is not a published signer$/);
  });
  it("requires each entry to change exactly the fields it names, once a record's entries name them", () => {
    /** Entries of one record from their (state, fields, change) in order, chained. */
    const chainOf = (steps: { state: object; fields?: string[]; change?: object }[]) => {
      const out: EntryReceipt[] = [];
      let previousLeaf = ZERO_HASH;
      steps.forEach((step, i) => {
        const canonical = canonicalJson({
          v: 2,
          recordType: 'order',
          recordId: ID,
          sequence: i + 1,
          previousLeaf,
          sourceId: `history:${i + 1}`,
          change: step.change ?? { kind: 'status' },
          state: step.state,
          ...(step.fields ? { fields: step.fields } : {}),
        });
        const salt = ethers.hexlify(ethers.randomBytes(32));
        const leaf = leafOf(canonical, salt, 2);
        out.push({ canonical, salt, leaf });
        previousLeaf = leaf;
      });
      return out;
    };
    const honest = chainOf([
      { state: { status: 'PENDING', total: 5997 } },
      { state: { status: 'CONFIRMED', total: 5997 }, fields: ['status'] },
      {
        state: { status: 'CONFIRMED', total: 1000 },
        fields: ['total'],
        change: { kind: 'state', fields: ['total'] },
      },
    ]);
    expect(checkEntries('order', ID, honest).map((c) => c.problems)).to.deep.equal([[], [], []]);

    // A total changed by an entry that names only the status: the edit rode the next change.
    const absorbed = chainOf([
      { state: { status: 'CONFIRMED', total: 5997 } },
      { state: { status: 'SHIPPED', total: 1000 }, fields: ['status'] },
    ]);
    expect(checkEntries('order', ID, absorbed)[1].problems).to.deep.equal([
      'entry 2 changes total without naming it',
    ]);
    // Leaving the names out after earlier entries gave them does not dodge the rule.
    const silent = chainOf([
      { state: { status: 'PENDING', total: 5997 } },
      { state: { status: 'CONFIRMED', total: 5997 }, fields: ['status'] },
      { state: { status: 'SHIPPED', total: 1000 } },
    ]);
    expect(checkEntries('order', ID, silent)[2].problems).to.deep.equal([
      'entry 3 does not name the fields it changes, as the entries before it do',
    ]);
    const overclaimed = chainOf([
      { state: { status: 'PENDING', total: 5997 } },
      { state: { status: 'CONFIRMED', total: 5997 }, fields: ['status', 'total'] },
    ]);
    expect(checkEntries('order', ID, overclaimed)[1].problems).to.deep.equal([
      'entry 2 names total but does not change it',
    ]);
  });
});
