/**
 * The hashes and signatures of docs/verification.md (§1 entries and leaves, §4 promises),
 * written out from the document with ethers alone. The monitor and the query scripts use this
 * module and never the services' own code (common/), so a mistake there cannot hide itself.
 */
import {
  AbiCoder,
  concat,
  getAddress,
  getBytes,
  keccak256,
  toUtf8Bytes,
  verifyMessage,
  ZeroHash,
  type Signer,
} from 'ethers';

export const LEAF_DOMAIN = 'ecom.audit-anchor';
export const PROMISE_DOMAIN = 'ecom.anchor-promise';
/** keccak256("ANCHORER_ROLE"), as the contract defines it. */
export const ANCHORER_ROLE = keccak256(toUtf8Bytes('ANCHORER_ROLE'));
export const ZERO_HASH = ZeroHash;
/** The entry format of §1; version 1 (no sequence, no chain) is still checked leaf by leaf. */
export const ENTRY_VERSION = 2;

const coder = AbiCoder.defaultAbiCoder();

export class CanonicalError extends Error {}

function write(value: unknown, at: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value))
        throw new CanonicalError(`${at}: ${value} is not a safe integer`);
      return String(value === 0 ? 0 : value);
    case 'object': {
      if (Array.isArray(value))
        return `[${value.map((v, i) => write(v, `${at}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalError(`${at}: not a plain object`);
      }
      // Default sort compares UTF-16 code units, which is the rule.
      const keys = Object.keys(value).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${write((value as Record<string, unknown>)[k], `${at}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new CanonicalError(`${at}: ${typeof value} is not allowed`);
  }
}

/** Canonical JSON (§1): sorted keys, no whitespace, safe integers only, strings as given. */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

/** Parses a canonical text, refusing one that is not exactly its own canonical form. */
export function parseCanonical(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CanonicalError('not JSON');
  }
  if (canonicalJson(parsed) !== text) throw new CanonicalError('not in canonical form');
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CanonicalError('not an object');
  }
  return parsed as Record<string, unknown>;
}

export const documentHash = (canonical: string): string => keccak256(toUtf8Bytes(canonical));

/** leaf = keccak256(keccak256(abi.encode(domain, version, salt, keccak256(utf8(canonical))))). */
export function leafOf(canonical: string, salt: string, version: number): string {
  return keccak256(
    keccak256(
      coder.encode(
        ['string', 'uint16', 'bytes32', 'bytes32'],
        [LEAF_DOMAIN, version, salt, documentHash(canonical)],
      ),
    ),
  );
}

export function recordKeyOf(recordType: string, recordId: string): string {
  return keccak256(coder.encode(['string', 'string'], [recordType, recordId]));
}

/** Folds a proof into a leaf with sorted-pair keccak (OpenZeppelin MerkleProof). */
export function foldProof(leaf: string, proof: string[]): string {
  let node = leaf.toLowerCase();
  for (const sibling of proof) {
    const s = sibling.toLowerCase();
    node = keccak256(node < s ? concat([node, s]) : concat([s, node]));
  }
  return node;
}

/** An entry's document, version 2 (§1). */
export interface EntryDocument {
  v: 2;
  recordType: string;
  recordId: string;
  sequence: number;
  previousLeaf: string;
  sourceId: string;
  change: Record<string, unknown>;
  state: Record<string, unknown>;
}

/** A signed promise (§4). */
export interface AnchorPromise {
  type: string;
  version: number;
  chainId: number;
  signer: string;
  recordType: string;
  recordId: string;
  recordKey: string;
  sequence: number;
  leaf: string;
  deadline: number;
  signature: string;
}

export type PromiseFields = Pick<
  AnchorPromise,
  'chainId' | 'recordKey' | 'sequence' | 'leaf' | 'deadline'
>;

export function promiseDigest(p: PromiseFields): string {
  return keccak256(
    coder.encode(
      ['string', 'uint256', 'bytes32', 'uint64', 'bytes32', 'uint64'],
      [PROMISE_DOMAIN, p.chainId, p.recordKey, p.sequence, p.leaf, p.deadline],
    ),
  );
}

/** The address whose key signed the promise (EIP-191 over the 32 digest bytes); null if malformed. */
export function promiseSigner(p: AnchorPromise): string | null {
  try {
    return getAddress(verifyMessage(getBytes(promiseDigest(p)), p.signature));
  } catch {
    return null;
  }
}

/** Signs a promise as a service does (used by the tests and the benchmark). */
export async function signPromise(
  signer: Signer,
  fields: Omit<AnchorPromise, 'type' | 'version' | 'signer' | 'signature' | 'recordKey'>,
): Promise<AnchorPromise> {
  const recordKey = recordKeyOf(fields.recordType, fields.recordId);
  const unsigned = { ...fields, recordKey };
  return {
    type: PROMISE_DOMAIN,
    version: 1,
    chainId: fields.chainId,
    signer: await signer.getAddress(),
    recordType: fields.recordType,
    recordId: fields.recordId,
    recordKey,
    sequence: fields.sequence,
    leaf: fields.leaf,
    deadline: fields.deadline,
    signature: await signer.signMessage(getBytes(promiseDigest(unsigned))),
  };
}

/** One entry as a record API answers it (the receipt's fields, flat or under `receipt`). */
export interface EntryReceipt {
  canonical: string;
  salt: string;
  leaf: string;
  proof?: string[] | null;
  root?: string | null;
  serializationVersion?: number;
  promise?: AnchorPromise | null;
}

export interface EntryCheck {
  /** Sequence for version 2 entries, null for version 1. */
  sequence: number | null;
  version: number | null;
  /** The leaf recomputed from canonical + salt (null when the text cannot be read). */
  leaf: string | null;
  /** Problems found offline: leaf, chain, proof, promise. Empty = all offline checks passed. */
  problems: string[];
  /** True when the entry has a proof and root to ask the contract about (with `leaf`). */
  anchored: boolean;
}

/**
 * The offline steps of §5 for one record's entries: each leaf recomputed from its canonical
 * text and salt (never taken from the answer), the version 2 hash chain (sequence 1..n,
 * previousLeaf), the proof folded to the root, and the promise (signature, key, sequence, leaf).
 * `signers`: the published signer addresses a promise may recover to (empty: not checked).
 * `chain` false skips the chain check, for entries that are not a record's whole history (a
 * transaction's batch).
 */
export function checkEntries(
  recordType: string,
  recordId: string,
  entries: EntryReceipt[],
  signers: string[] = [],
  chain = true,
): EntryCheck[] {
  const known = new Set(signers.map((s) => s.toLowerCase()));
  const recordKey = recordKeyOf(recordType, recordId);
  const checks: EntryCheck[] = [];
  const links: {
    sequence: number;
    previousLeaf: string;
    leaf: string;
    doc: Record<string, unknown>;
    check: EntryCheck;
  }[] = [];
  for (const entry of entries) {
    const check: EntryCheck = {
      sequence: null,
      version: null,
      leaf: null,
      problems: [],
      anchored: false,
    };
    checks.push(check);
    let doc: Record<string, unknown>;
    try {
      doc = parseCanonical(entry.canonical);
    } catch (err) {
      check.problems.push(`canonical text: ${(err as Error).message}`);
      continue;
    }
    const version = typeof doc.v === 'number' ? doc.v : NaN;
    check.version = Number.isInteger(version) ? version : null;
    if (version !== 1 && version !== ENTRY_VERSION) {
      check.problems.push(`unknown serialisation version ${String(doc.v)}`);
      continue;
    }
    if (doc.recordType !== recordType || doc.recordId !== recordId) {
      check.problems.push(`entry names ${String(doc.recordType)}/${String(doc.recordId)}`);
    }
    check.leaf = leafOf(entry.canonical, entry.salt, version);
    if (check.leaf !== entry.leaf?.toLowerCase()) {
      check.problems.push('canonical text and salt do not hash to the leaf given');
    }
    if (version === ENTRY_VERSION) {
      check.sequence = Number(doc.sequence);
      links.push({
        sequence: check.sequence,
        previousLeaf: String(doc.previousLeaf).toLowerCase(),
        leaf: check.leaf,
        doc,
        check,
      });
    }
    if (entry.proof && entry.root) {
      check.anchored = true;
      if (foldProof(check.leaf, entry.proof) !== entry.root.toLowerCase()) {
        check.problems.push('proof does not lead from the leaf to the root');
      }
    }
    const p = entry.promise;
    if (p) {
      const signer = promiseSigner(p);
      if (!signer) check.problems.push('promise signature malformed');
      else if (signer.toLowerCase() !== p.signer?.toLowerCase())
        check.problems.push(`promise signed by ${signer}, not by its signer ${p.signer}`);
      else if (known.size && !known.has(signer.toLowerCase()))
        check.problems.push(`promise signer ${signer} is not a published signer`);
      if (p.recordKey?.toLowerCase() !== recordKey)
        check.problems.push('promise names another record');
      if (p.leaf?.toLowerCase() !== check.leaf) check.problems.push('promise is for another leaf');
      if (version === ENTRY_VERSION && p.sequence !== check.sequence)
        check.problems.push('promise is for another sequence');
    }
  }
  // The chain: 1..n in order, each naming the previous entry's recomputed leaf.
  if (!chain) return checks;
  links.sort((a, b) => a.sequence - b.sequence);
  links.forEach((e, i) => {
    if (e.sequence !== i + 1)
      e.check.problems.push(`sequence ${e.sequence} where ${i + 1} was due`);
    const expected = i === 0 ? ZERO_HASH : links[i - 1].leaf;
    if (e.previousLeaf !== expected) {
      e.check.problems.push(
        i === 0
          ? 'first entry names a previous leaf'
          : "previousLeaf is not the previous entry's leaf",
      );
    }
  });
  // What each entry changes from the one before: exactly the fields it names (§1).
  let named = false;
  links.forEach((e, i) => {
    named ||= e.doc.fields !== undefined;
    if (i > 0) e.check.problems.push(...unnamedChanges(links[i - 1].doc, e.doc, named));
  });
  return checks;
}

const sameValue = (a: unknown, b: unknown): boolean => {
  try {
    return (
      canonicalJson(a ?? null) === canonicalJson(b ?? null) &&
      (a === undefined) === (b === undefined)
    );
  } catch {
    return false;
  }
};

const isNames = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * §1's rule between consecutive entries: the state fields whose value differs are exactly those
 * the entry names in `fields` (and a `state` change in its own `fields`). Entries written before
 * the rule name none; once one entry of a record names its fields, every later one must.
 */
function unnamedChanges(
  before: Record<string, unknown>,
  doc: Record<string, unknown>,
  named: boolean,
): string[] {
  const n = String(doc.sequence);
  const was = (before.state ?? {}) as Record<string, unknown>;
  const now = (doc.state ?? {}) as Record<string, unknown>;
  const changed = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter(
    (k) => !sameValue(was[k], now[k]),
  );
  const problems: string[] = [];
  const lists: string[][] = [];
  if (doc.fields !== undefined) {
    if (isNames(doc.fields)) lists.push(doc.fields);
    else problems.push(`entry ${n}: fields is not a list of names`);
  } else if (named) {
    problems.push(`entry ${n} does not name the fields it changes, as the entries before it do`);
  }
  const change = (doc.change ?? {}) as Record<string, unknown>;
  if (change.kind === 'state') {
    if (isNames(change.fields)) lists.push(change.fields);
    else problems.push(`entry ${n} is a change of state that names no fields`);
  }
  for (const list of lists) {
    const unnamed = changed.filter((f) => !list.includes(f));
    const unchanged = list.filter((f) => !changed.includes(f));
    if (unnamed.length) problems.push(`entry ${n} changes ${unnamed.join(', ')} without naming it`);
    if (unchanged.length)
      problems.push(`entry ${n} names ${unchanged.join(', ')} but does not change it`);
  }
  return [...new Set(problems)];
}
