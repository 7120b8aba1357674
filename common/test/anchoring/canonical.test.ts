import {
  CanonicalizationError,
  SERIALIZATION_VERSION,
  buildBatchTree,
  canonicalDocument,
  canonicalJson,
  computeLeaf,
  leafHash,
  newSalt,
  onChainBatchId,
  parseCanonical,
  storedDocument,
  verifyProof,
} from '../../src/anchoring';
import { keccak256, AbiCoder, concat } from 'ethers';
import { SimpleMerkleTree, StandardMerkleTree } from '@openzeppelin/merkle-tree';

describe('canonical serialisation', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { total: 1999, items: [{ sku: 'A', qty: 2 }], meta: { z: true, a: null } };
    const b = { meta: { a: null, z: true }, items: [{ qty: 2, sku: 'A' }], total: 1999 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe(
      '{"items":[{"qty":2,"sku":"A"}],"meta":{"a":null,"z":true},"total":1999}',
    );
  });

  it('keeps array order significant', () => {
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });

  it('rejects floats, NaN, infinities and unsafe integers, naming the path', () => {
    expect(() => canonicalJson({ amount: 19.99 })).toThrow(CanonicalizationError);
    expect(() => canonicalJson({ amount: 19.99 })).toThrow(/\$\.amount/);
    expect(() => canonicalJson({ a: [1, NaN] })).toThrow(/\$\.a\[1\]/);
    expect(() => canonicalJson({ a: [{ b: [0, 1.5] }] })).toThrow(/at \$\.a\[0\]\.b\[1\]$/);
    // The path of a value after others that were written: theirs is not in it.
    expect(() => canonicalJson({ a: { x: [1] }, b: 0.5 })).toThrow(/at \$\.b$/);
    expect(() => canonicalJson([[1], { k: 2 }, new Date(NaN)])).toThrow(/at \$\[2\]$/);
    expect(() => canonicalJson(Infinity)).toThrow(CanonicalizationError);
    expect(() => canonicalJson(2 ** 53)).toThrow(CanonicalizationError);
  });

  it('writes exact amounts: bigint as a decimal string, -0 as 0, dates as ISO strings', () => {
    expect(canonicalJson({ v: 12345678901234567890n })).toBe('{"v":"12345678901234567890"}');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe(
      '"2026-01-02T03:04:05.006Z"',
    );
  });

  it('rejects undefined, functions and class instances', () => {
    expect(() => canonicalJson({ a: undefined })).toThrow(/undefined/);
    // A hole in an array is undefined too (it once came out as `[1,,3]`, which is not JSON).
    // eslint-disable-next-line no-sparse-arrays
    expect(() => canonicalJson([1, , 3])).toThrow(/undefined cannot be serialised at \$\[1\]$/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(CanonicalizationError);
    expect(() => canonicalJson(new Map())).toThrow(/plain objects/);
  });

  it('puts the serialisation version into the document and refuses a shape of another version', () => {
    const legacy = { recordType: 'order', recordId: 'o1', sourceId: 's1', payload: { total: 5 } };
    const entry = {
      recordType: 'order',
      recordId: 'o1',
      sequence: 1,
      previousLeaf: `0x${'0'.repeat(64)}`,
      sourceId: 'history:1',
      change: { kind: 'status', from: null, to: 'PENDING' },
      state: { total: 5 },
    };
    expect(SERIALIZATION_VERSION).toBe(2);
    expect(JSON.parse(canonicalDocument(entry)).v).toBe(2);
    expect(JSON.parse(canonicalDocument(legacy, 1)).v).toBe(1);
    // A version 1 document cannot be serialised as version 2 (it has no chain), nor the reverse.
    expect(() => canonicalDocument(legacy)).toThrow(/no version 2 document of this shape/);
    expect(() => canonicalDocument(entry, 1)).toThrow(/no version 1 document of this shape/);
    expect(() => canonicalDocument(entry, 3)).toThrow(CanonicalizationError);
  });

  it('reads a stored text back as parseCanonical does, once per text while it is recent', () => {
    const entry = (sequence: number) =>
      canonicalDocument({
        recordType: 'order',
        recordId: 'o1',
        sequence,
        previousLeaf: `0x${'0'.repeat(64)}`,
        sourceId: `history:${sequence}`,
        change: { kind: 'status', to: 'PENDING' },
        state: { total: 5 },
      });
    const text = entry(1);
    const doc = storedDocument(text);
    expect(doc).toEqual((parseCanonical(text) as { doc: unknown }).doc);
    // A text equal to it but built anew (as each read of the chain gives) finds the same document.
    expect(storedDocument(` ${text}`.slice(1))).toBe(doc);
    // A text that is not canonical (a key out of order) is no document, every time.
    const reordered = text.replace('{"change":', '{"v":2,"change":').replace(',"v":2}', '}');
    expect(parseCanonical(reordered)).toHaveProperty('error');
    expect(storedDocument(reordered)).toBeNull();
    expect(storedDocument(reordered)).toBeNull();
    // Shared by later reads, so frozen all through.
    expect(Object.isFrozen((doc as { state: object }).state)).toBe(true);
    // Bounded: after 1024 other texts the first is parsed again, into a new document.
    for (let n = 2; n <= 1026; n += 1) storedDocument(entry(n));
    const again = storedDocument(text);
    expect(again).toEqual(doc);
    expect(again).not.toBe(doc);
  });

  it('keeps texts read back within a bound of characters, and none too long to keep', () => {
    const entry = (note: string) =>
      canonicalDocument({
        recordType: 'order',
        recordId: 'o2',
        sequence: 1,
        previousLeaf: `0x${'0'.repeat(64)}`,
        sourceId: 'created',
        change: { kind: 'created' },
        state: { note },
      });
    const long = entry('x'.repeat(70_000));
    expect(storedDocument(long)).toEqual((parseCanonical(long) as { doc: unknown }).doc);
    expect(storedDocument(long)).not.toBe(storedDocument(long));
    // 60,000 characters each: the 70th would pass 4 Mi characters, so the first goes.
    const texts = Array.from({ length: 70 }, (_, n) => entry(`${n}`.padEnd(60_000, '.')));
    const first = storedDocument(texts[0]!);
    expect(storedDocument(texts[0]!)).toBe(first);
    for (const t of texts.slice(1)) storedDocument(t);
    expect(storedDocument(texts[0]!)).not.toBe(first);
  });
});

describe('leaves', () => {
  const doc = {
    recordType: 'payment',
    recordId: 'p1',
    sourceId: 'p1:COMPLETED',
    payload: { amount: 1000 },
  };

  it('are the OpenZeppelin double hash of (domain, version, salt, keccak(canonical))', () => {
    const salt = newSalt();
    const { canonical, leaf } = computeLeaf(doc, salt, 1);
    const inner = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ['string', 'uint16', 'bytes32', 'bytes32'],
        ['ecom.audit-anchor', 1, salt, keccak256(Buffer.from(canonical, 'utf8'))],
      ),
    );
    expect(leaf).toBe(keccak256(inner));
    expect(leafHash(canonical, salt, 1)).toBe(leaf);
    // ...which is OpenZeppelin's StandardMerkleTree leaf for these values.
    const oz = StandardMerkleTree.of(
      [['ecom.audit-anchor', 1, salt, keccak256(Buffer.from(canonical, 'utf8'))]],
      ['string', 'uint16', 'bytes32', 'bytes32'],
    );
    expect(oz.root).toBe(leaf);
  });

  it('change with the salt, the payload and the key order never', () => {
    const salt = newSalt();
    const base = computeLeaf(doc, salt, 1).leaf;
    expect(computeLeaf(doc, newSalt(), 1).leaf).not.toBe(base);
    expect(computeLeaf({ ...doc, payload: { amount: 1001 } }, salt, 1).leaf).not.toBe(base);
    expect(computeLeaf({ ...doc, recordId: 'p2' }, salt, 1).leaf).not.toBe(base);
    expect(
      computeLeaf(
        { payload: doc.payload, sourceId: doc.sourceId, recordId: 'p1', recordType: 'payment' },
        salt,
        1,
      ).leaf,
    ).toBe(base);
  });

  it('use fresh 32-byte salts, across the blocks they are cut from', () => {
    // 1000 salts span several blocks of 128; none is zero (a wiped one handed out again).
    const salts = new Set(Array.from({ length: 1000 }, newSalt));
    expect(salts.size).toBe(1000);
    for (const s of salts) expect(s).toMatch(/^0x(?!0{64})[0-9a-f]{64}$/);
  });
});

describe('batch trees', () => {
  const leaves = Array.from(
    { length: 13 },
    (_, i) =>
      computeLeaf(
        { recordType: 'order', recordId: `o${i}`, sourceId: `${i}`, payload: i },
        newSalt(),
        1,
      ).leaf,
  );

  it('give every leaf a proof to the root', () => {
    const tree = buildBatchTree(leaves);
    leaves.forEach((leaf, i) => expect(verifyProof(leaf, tree.proofs[i], tree.root)).toBe(true));
  });

  it('refuse a foreign leaf, a swapped proof, a truncated proof and garbage', () => {
    const tree = buildBatchTree(leaves);
    expect(verifyProof(leaves[0], tree.proofs[1], tree.root)).toBe(false);
    expect(verifyProof(leaves[0], tree.proofs[0].slice(1), tree.root)).toBe(false);
    expect(verifyProof(buildBatchTree(leaves.slice(1)).root, [], tree.root)).toBe(false);
    expect(verifyProof('0xzz', tree.proofs[0], tree.root)).toBe(false);
  });

  it('equal OpenZeppelin SimpleMerkleTree (root and proofs) for every size up to 40', () => {
    for (let n = 1; n <= 40; n++) {
      const some = leaves
        .concat(leaves, leaves, leaves)
        .slice(0, n)
        .map((l, i) =>
          i < leaves.length ? l : keccak256(concat([l, `0x${i.toString(16).padStart(2, '0')}`])),
        );
      const ours = buildBatchTree(some);
      const oz = SimpleMerkleTree.of(some);
      expect(ours.root).toBe(oz.root);
      some.forEach((_, i) => expect(ours.proofs[i]).toEqual(oz.getProof(i)));
    }
  });

  it('of one record have the leaf as root and an empty proof', () => {
    const tree = buildBatchTree([leaves[0]]);
    expect(tree.root).toBe(leaves[0]);
    expect(tree.proofs[0]).toEqual([]);
  });

  it('hash inner nodes sorted, like OpenZeppelin MerkleProof', () => {
    const tree = buildBatchTree(leaves.slice(0, 2));
    const [a, b] = [leaves[0], leaves[1]].sort();
    expect(tree.root).toBe(keccak256(concat([a, b])));
  });
});

describe('on-chain batch ids', () => {
  it('are the 16 UUID bytes left-aligned in bytes32', () => {
    expect(onChainBatchId('0b4c3f6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f')).toBe(
      `0x0b4c3f6e1d2a4c5b9e8f7a6b5c4d3e2f${'0'.repeat(32)}`,
    );
  });
});
