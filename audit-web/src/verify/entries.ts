import {
  CanonicalError,
  canonicalJson,
  foldProof,
  leafOf,
  parseCanonical,
  promiseSigner,
  recordKeyOf,
  ZERO_HASH,
} from '@ecom/blockchain/src/verification';
import { NoContractError, type ChainReader } from './chain';
import type {
  Check,
  CheckBasis,
  CheckStatus,
  EntryState,
  EntryVerdict,
  Receipt,
  RecordVerdict,
} from './types';

/**
 * The browser's verification of an order's or payment's entries (docs/verification.md §5), with
 * the rules of the project's independent verifier (blockchain/src/verification.ts: canonical
 * form, leaf, proof, promise digest), which the monitor uses too and which shares no code with
 * the services. Every leaf is recomputed here and only that leaf is used; the chain is asked
 * about roots and anchorers. What the API says about an entry's status is never read.
 */

const lower = (s: string | null | undefined): string => (s ?? '').toLowerCase();
const short = (hex: string): string => (hex.length > 14 ? `${hex.slice(0, 10)}…` : hex);

function check(name: string, status: CheckStatus, detail: string, basis: CheckBasis): Check {
  return { name, status, detail, basis };
}
const HERE: CheckBasis = 'recomputed in this browser';
const CHAIN: CheckBasis = 'asked the chain';

export interface VerifyOptions {
  /** null: the chain is not asked (offline checks only; anchored entries stay `unconfirmed`). */
  chain: ChainReader | null;
  /** The contract to ask; default: the receipt's (shown, so the user sees which). */
  contractAddress?: string;
  /** Unix seconds (promise deadlines). */
  now: number;
  /**
   * true: the entries are the record's whole history, so the hash chain is checked (1..n, each
   * naming the previous entry's recomputed leaf). false for a lone pasted receipt.
   */
  wholeRecord: boolean;
}

interface Offline {
  verdict: EntryVerdict;
  doc: Record<string, unknown> | null;
  receipt: Receipt;
}

/** The checks that need nothing but the receipt itself. */
function offlineChecks(receipt: Receipt, now: number): Offline {
  const checks: Check[] = [];
  const verdict: EntryVerdict = {
    recordType: receipt.recordType,
    recordId: receipt.recordId,
    sourceId: receipt.sourceId ?? '?',
    sequence: receipt.sequence ?? null,
    leaf: null,
    state: 'pending',
    late: false,
    deadline: receipt.promise?.deadline ?? null,
    checks,
    reasons: [],
  };
  let doc: Record<string, unknown>;
  try {
    doc = parseCanonical(receipt.canonical);
    checks.push(check('canonical text', 'pass', 'is exactly its canonical form', HERE));
  } catch (err) {
    const why = err instanceof CanonicalError ? err.message : String(err);
    checks.push(check('canonical text', 'fail', `cannot be read: ${why}`, HERE));
    return { verdict, doc: null, receipt };
  }
  const version = Number(doc.v);
  const names = doc.recordType === receipt.recordType && doc.recordId === receipt.recordId;
  checks.push(
    check(
      'names this record',
      names ? 'pass' : 'fail',
      names
        ? `${receipt.recordType} ${receipt.recordId}`
        : `the text names ${String(doc.recordType)} ${String(doc.recordId)}`,
      HERE,
    ),
  );
  const leaf = leafOf(receipt.canonical, receipt.salt, version);
  verdict.leaf = leaf;
  if (version === 2) verdict.sequence = Number(doc.sequence);
  verdict.sourceId = String(doc.sourceId ?? verdict.sourceId);
  checks.push(
    check(
      'leaf recomputed',
      leaf === lower(receipt.leaf) ? 'pass' : 'fail',
      leaf === lower(receipt.leaf)
        ? `keccak256 of the canonical text and salt: ${short(leaf)}`
        : `the canonical text and salt hash to ${short(leaf)}, not to the leaf given (${short(lower(receipt.leaf))})`,
      HERE,
    ),
  );
  const p = receipt.promise;
  if (!p) {
    checks.push(
      check(
        'signed promise',
        version === 2 ? 'fail' : 'skip',
        version === 2 ? 'the promise signed at write time is missing' : 'version 1 entry',
        HERE,
      ),
    );
  } else {
    const signer = promiseSigner(p);
    const problems: string[] = [];
    if (!signer) problems.push('its signature is malformed');
    else if (lower(signer) !== lower(p.signer))
      problems.push(`signed by ${signer}, not by ${p.signer}`);
    if (lower(p.recordKey) !== recordKeyOf(receipt.recordType, receipt.recordId))
      problems.push('it names another record');
    if (lower(p.leaf) !== leaf) problems.push('it promises another leaf');
    if (version === 2 && p.sequence !== Number(doc.sequence))
      problems.push('it promises another sequence');
    checks.push(
      check(
        'signed promise',
        problems.length ? 'fail' : 'pass',
        problems.length
          ? `the promise does not hold: ${problems.join('; ')}`
          : `signature recovers ${signer}; deadline ${new Date(p.deadline * 1000).toISOString()}`,
        HERE,
      ),
    );
  }
  const anchored = Boolean(receipt.proof && receipt.root);
  if (anchored) {
    const folded = foldProof(leaf, receipt.proof!);
    const ok = folded === lower(receipt.root);
    checks.push(
      check(
        'Merkle proof',
        ok ? 'pass' : 'fail',
        ok
          ? `${receipt.proof!.length} sibling${receipt.proof!.length === 1 ? ' folds' : 's fold'} the leaf into root ${short(folded)}`
          : `the proof folds the leaf into ${short(folded)}, not into root ${short(lower(receipt.root))}`,
        HERE,
      ),
    );
  } else if (p && p.deadline < now) {
    verdict.late = true;
  }
  return { verdict, doc, receipt };
}

/** The hash chain across a record's entries (sequence 1..n, each naming the previous leaf). */
function chainLinks(entries: Offline[]): void {
  const chained = entries
    .filter((e) => e.doc && Number(e.doc.v) === 2)
    .sort((a, b) => Number(a.doc!.sequence) - Number(b.doc!.sequence));
  chained.forEach((e, i) => {
    const sequence = Number(e.doc!.sequence);
    const expected = i === 0 ? lower(ZERO_HASH) : chained[i - 1]!.verdict.leaf!;
    const named = lower(String(e.doc!.previousLeaf));
    let c: Check;
    if (sequence !== i + 1) {
      c = check(
        'chain link',
        'fail',
        `sequence ${sequence} where ${i + 1} was due (an entry is missing)`,
        HERE,
      );
    } else if (named !== expected) {
      c = check(
        'chain link',
        'fail',
        i === 0
          ? 'the first entry names a previous leaf'
          : `names previous leaf ${short(named)}, but entry ${i} hashes to ${short(expected)}`,
        HERE,
      );
    } else {
      c = check(
        'chain link',
        'pass',
        i === 0 ? 'entry 1, names no previous leaf' : `names entry ${i}'s recomputed leaf`,
        HERE,
      );
    }
    e.verdict.checks.splice(3, 0, c);
  });
}

const sameValue = (a: unknown, b: unknown): boolean => {
  try {
    return canonicalJson(a) === canonicalJson(b);
  } catch {
    return false;
  }
};
const fieldsOf = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
const nameList = (v: unknown): string[] | null =>
  Array.isArray(v) && v.every((f) => typeof f === 'string') ? (v as string[]) : null;

/**
 * Each entry names every change it carries (docs/verification.md §5): the fields whose value
 * differs from the previous entry's `state` are exactly its `fields` (and, for a `state` entry,
 * its change's `fields`). A row's entry written before entries named their fields has no
 * `fields` and cannot be checked, unless an entry before it named them: then it must too.
 */
function namedChanges(entries: Offline[]): void {
  const chained = entries
    .filter((e) => e.doc && Number(e.doc.v) === 2)
    .sort((a, b) => Number(a.doc!.sequence) - Number(b.doc!.sequence));
  let named = false;
  chained.forEach((e, i) => {
    const doc = e.doc!;
    const previous = i > 0 ? chained[i - 1]!.doc! : null;
    const n = Number(doc.sequence);
    if (previous && n === i + 1) {
      const before = fieldsOf(previous.state);
      const after = fieldsOf(doc.state);
      const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((k) => !sameValue(before[k], after[k]))
        .sort();
      const problems: string[] = [];
      const lists: string[][] = [];
      if ('fields' in doc) {
        const list = nameList(doc.fields);
        if (list) lists.push(list);
        else problems.push(`entry ${n} names its fields in no list of names`);
      } else if (named) {
        problems.push(
          `entry ${n} does not name the fields it changes, as the entries before it do`,
        );
      }
      const change = fieldsOf(doc.change);
      if (change.kind === 'state') {
        const list = nameList(change.fields);
        if (list) lists.push(list);
        else problems.push(`entry ${n} is a change of state that names no fields`);
      }
      for (const list of lists) {
        const unnamed = changed.filter((f) => !list.includes(f));
        const unchanged = list.filter((f) => !changed.includes(f));
        if (unnamed.length) {
          problems.push(
            `entry ${n} changes ${unnamed.join(', ')} without naming ${unnamed.length === 1 ? 'it' : 'them'}`,
          );
        }
        if (unchanged.length) {
          problems.push(
            `entry ${n} names ${unchanged.join(', ')} but does not change ${unchanged.length === 1 ? 'it' : 'them'}`,
          );
        }
      }
      const unique = [...new Set(problems)];
      e.verdict.checks.push(
        unique.length
          ? check('names its changes', 'fail', unique.join('; '), HERE)
          : lists.length
            ? check(
                'names its changes',
                'pass',
                changed.length
                  ? `changes ${changed.join(', ')} from entry ${i}, as it says`
                  : `changes no field of entry ${i}'s state, as it says`,
                HERE,
              )
            : check(
                'names its changes',
                'skip',
                'written before entries named the fields they change',
                HERE,
              ),
      );
    }
    if ('fields' in doc) named = true;
  });
}

/** Asks the chain about one anchored entry: the root, its anchorer, the transaction. */
async function chainChecks(
  e: Offline,
  options: VerifyOptions,
  anchorers: Map<string, Promise<boolean>>,
): Promise<'confirmed' | 'unreachable' | 'not-anchored'> {
  const { receipt, verdict } = e;
  const chain = options.chain;
  const leaf = verdict.leaf;
  if (!receipt.proof || !receipt.root || !leaf) return 'not-anchored';
  const contract = options.contractAddress ?? receipt.contractAddress ?? '';
  if (!chain) {
    verdict.checks.push(check('root on chain', 'skip', 'no chain endpoint was asked', CHAIN));
    return 'unreachable';
  }
  if (receipt.chainId != null && receipt.chainId !== chain.chainId) {
    verdict.checks.push(
      check(
        'root on chain',
        'fail',
        `the receipt is for chain ${receipt.chainId}; ${chain.url} is chain ${chain.chainId}`,
        CHAIN,
      ),
    );
    return 'confirmed';
  }
  try {
    const onChain = await chain.verify(contract, leaf, receipt.proof, receipt.root);
    verdict.checks.push(
      check(
        'root on chain',
        onChain ? 'pass' : 'fail',
        onChain
          ? `verify(leaf, proof, root) on ${contract} returned true`
          : `verify(leaf, proof, root) on ${contract} returned false: the root is not anchored there`,
        CHAIN,
      ),
    );
    if (!onChain) return 'confirmed';
    const event = await chain.anchorEvent(contract, receipt.root);
    if (!event) {
      verdict.checks.push(
        check('anchorer authorised', 'fail', 'no AnchorRecorded event for this root', CHAIN),
      );
      return 'confirmed';
    }
    let authorised = anchorers.get(event.anchorer);
    if (!authorised) {
      authorised = chain.isAnchorer(contract, event.anchorer);
      anchorers.set(event.anchorer, authorised);
    }
    const holds = await authorised;
    const signer = receipt.promise ? lower(promiseSigner(receipt.promise)) : '';
    const sameKey = !receipt.promise || signer === event.anchorer;
    verdict.checks.push(
      check(
        'anchorer authorised',
        holds && sameKey ? 'pass' : 'fail',
        !holds
          ? `${event.anchorer} anchored the root but does not hold ANCHORER_ROLE`
          : !sameKey
            ? `the root was anchored by ${event.anchorer}, the promise signed by ${signer}`
            : `${event.anchorer} anchored it (block ${event.blockNumber}), holds ANCHORER_ROLE and signed the promise`,
        CHAIN,
      ),
    );
    const txOk = !receipt.txHash || lower(receipt.txHash) === event.txHash;
    verdict.checks.push(
      check(
        'transaction',
        txOk ? 'pass' : 'fail',
        txOk
          ? `anchored in ${event.txHash} (batch ${event.size} of its anchorer's log)`
          : `the chain anchored the root in ${event.txHash}, the receipt names ${receipt.txHash}`,
        CHAIN,
      ),
    );
    return 'confirmed';
  } catch (err) {
    if (err instanceof NoContractError) {
      verdict.checks.push(check('root on chain', 'fail', err.message, CHAIN));
      return 'confirmed';
    }
    verdict.checks.push(
      check(
        'root on chain',
        'skip',
        `the chain could not be asked: ${(err as Error).message}`,
        CHAIN,
      ),
    );
    return 'unreachable';
  }
}

function settle(e: Offline, chain: 'confirmed' | 'unreachable' | 'not-anchored'): void {
  const v = e.verdict;
  v.reasons = v.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
  let state: EntryState;
  if (v.reasons.length) state = 'tampered';
  else if (chain === 'not-anchored') state = 'pending';
  else if (chain === 'unreachable') state = 'unconfirmed';
  else state = 'verified';
  v.state = state;
}

/** The record's state from its entries' and its own checks. */
export function recordState(entries: EntryVerdict[], checks: Check[]): EntryState {
  if (checks.some((c) => c.status === 'fail') || entries.some((e) => e.state === 'tampered'))
    return 'tampered';
  if (!entries.length) return 'pending';
  if (entries.some((e) => e.state === 'pending')) return 'pending';
  if (entries.some((e) => e.state === 'unconfirmed')) return 'unconfirmed';
  return 'verified';
}

/**
 * Verifies receipts of one record (all its entries when `wholeRecord`). The result lists every
 * check made, what it relied on, and the record's state.
 */
export async function verifyReceipts(
  recordType: string,
  recordId: string,
  receipts: Receipt[],
  options: VerifyOptions,
): Promise<RecordVerdict> {
  const offline = receipts.map((r) => offlineChecks(r, options.now));
  if (options.wholeRecord) {
    chainLinks(offline);
    namedChanges(offline);
  }
  const anchorers = new Map<string, Promise<boolean>>();
  for (const e of offline) settle(e, await chainChecks(e, options, anchorers));
  const entries = offline.map((e) => e.verdict);
  const checks: Check[] = [];
  if (options.wholeRecord) {
    const count = entries.filter((e) => e.sequence !== null).length;
    checks.push(
      check(
        'whole history',
        count ? 'pass' : 'fail',
        count
          ? `${recordType} ${recordId.slice(0, 8)}: ${count} chained entries, 1 to ${count}`
          : `${recordType} ${recordId.slice(0, 8)}: no chained entry`,
        HERE,
      ),
    );
  }
  const reasons = [
    ...checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`),
    ...entries.flatMap((e) => e.reasons.map((r) => `${e.sourceId}: ${r}`)),
  ];
  return {
    recordType,
    recordId,
    state: recordState(entries, checks),
    entries,
    checks,
    reasons,
  };
}

/** The newest entry's `state` (the record as last anchored), or null. */
export function newestState(receipts: Receipt[]): Record<string, unknown> | null {
  let best: { sequence: number; state: Record<string, unknown> } | null = null;
  for (const r of receipts) {
    try {
      const doc = parseCanonical(r.canonical);
      if (Number(doc.v) !== 2) continue;
      const sequence = Number(doc.sequence);
      if (!best || sequence > best.sequence) {
        best = { sequence, state: doc.state as Record<string, unknown> };
      }
    } catch {
      // An unreadable entry is reported by its own checks.
    }
  }
  return best?.state ?? null;
}
