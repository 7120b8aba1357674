/**
 * The independent monitor of docs/verification.md §6. `checkLog` is the pure core: given one
 * contract's events, the services' published logs and promises, the known anchorers and the
 * time, it returns findings. The fetching layer reads the events (ethers provider) and the
 * public log pages (fetch); `runMonitor` ties both together for the two entry points
 * (scripts/monitor.ts under Hardhat, src/monitor-cli.ts under plain Node).
 *
 * Nothing the services publish is taken on trust: roots are rebuilt from the published leaves
 * with OpenZeppelin's SimpleMerkleTree (not the services' own tree code), promise signatures are
 * recovered, and the chain's order of roots is replayed per anchorer.
 */
import { readFileSync } from 'node:fs';
import { SimpleMerkleTree } from '@openzeppelin/merkle-tree';
import { getAddress, Interface, type Provider } from 'ethers';
import {
  ANCHORER_ROLE,
  PROMISE_DOMAIN,
  promiseSigner,
  ZERO_HASH,
  type AnchorPromise,
} from './verification';

export type { AnchorPromise } from './verification';

/**
 * A promise as the public log serves it: without `recordId`, which its signature does not cover
 * (the record key stands for it). A customer's own copy still has it.
 */
export type PublishedPromise = Omit<AnchorPromise, 'recordId'> & { recordId?: string };

// ---------------------------------------------------------------------------------------------
// Input and output of the pure core
// ---------------------------------------------------------------------------------------------

interface EventPosition {
  blockNumber: number;
  logIndex: number;
  txHash: string;
}

export interface AnchorRecordedEvent extends EventPosition {
  name: 'AnchorRecorded';
  batchId: string;
  root: string;
  anchorer: string;
  previousRoot: string;
  recordCount: number;
  size: number;
}

export interface RoleEvent extends EventPosition {
  name: 'RoleGranted' | 'RoleRevoked';
  role: string;
  account: string;
  sender: string;
}

export type ChainEvent = AnchorRecordedEvent | RoleEvent;

/** `GET /api/blockchain/<service>/log/info` (§3). */
export interface LogInfo {
  service: string;
  recordType: string;
  anchorer: string;
  chainId: number;
  contractAddress: string | null;
  leafDomain?: string;
  serializationVersion?: number;
  promiseDomain?: string;
}

/** recordKey and sequence are null for a version 1 leaf (before entries were chained). */
export interface PublishedLeaf {
  leaf: string;
  recordKey: string | null;
  sequence: number | null;
}

/** One item of `GET /api/blockchain/<service>/log` (§3). */
export interface PublishedBatch {
  seq: number;
  batchId: string;
  onChainBatchId: string;
  root: string;
  previousRoot: string;
  recordCount: number;
  status: 'pending' | 'sent' | 'confirmed' | 'superseded';
  chainId: number | null;
  contractAddress: string | null;
  txHash: string | null;
  blockNumber: number | null;
  leaves: PublishedLeaf[];
}

/** What one service publishes. */
export interface PublishedLog {
  info: LogInfo;
  batches: PublishedBatch[];
  promises: PublishedPromise[];
}

export interface MonitorInput {
  chainId: number;
  contractAddress: string;
  /** Every AnchorRecorded, RoleGranted and RoleRevoked event of the contract, any order. */
  events: ChainEvent[];
  logs: PublishedLog[];
  /** Promises from elsewhere (customers kept them): checked like the published ones. */
  promises?: PublishedPromise[];
  /** What earlier runs saw published (the state file): what is no longer there is reported. */
  remembered?: MonitorMemory;
  /** The addresses allowed to anchor and to sign promises. */
  knownAnchorers: string[];
  /** Unix seconds. */
  now: number;
}

export const FINDING_KINDS = [
  'unknown-anchorer',
  'broken-chain',
  'unpublished-root',
  'root-mismatch',
  'published-not-on-chain',
  'equivocation',
  'sequence-gap',
  'bad-signature',
  'broken-promise',
  'vanished-leaf',
  'vanished-promise',
  'chain-gone',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/**
 * An error is a broken rule of the log. A warning is something the monitor cannot check (a
 * superseded batch whose chain is gone), said so that it is not silence.
 */
export type Severity = 'error' | 'warning';
export const FINDING_SEVERITY: Record<FindingKind, Severity> = {
  'unknown-anchorer': 'error',
  'broken-chain': 'error',
  'unpublished-root': 'error',
  'root-mismatch': 'error',
  'published-not-on-chain': 'error',
  equivocation: 'error',
  'sequence-gap': 'error',
  'bad-signature': 'error',
  'broken-promise': 'error',
  'vanished-leaf': 'error',
  'vanished-promise': 'error',
  'chain-gone': 'warning',
};

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  /** What it is about: a root, an account, `recordKey#sequence`. */
  subject: string;
  message: string;
}

export interface MonitorStats {
  /** Anchors on chain, replayed. */
  batches: number;
  /** Published leaves that hash to an anchored root. */
  leaves: number;
  /** Distinct record keys among those leaves. */
  records: number;
  /** Promises checked (published and from the file, duplicates once). */
  promises: number;
  /** Of those, deadline not passed and leaf not anchored yet. */
  promisesPending: number;
  /** Published batches of another chain or contract (an earlier log), not checked here. */
  otherLogBatches: number;
}

export interface MonitorReport {
  findings: Finding[];
  stats: MonitorStats;
}

/** A promise as an earlier run saw it published, and when it first did (Unix seconds). */
export type RememberedPromise = PublishedPromise & { firstSeen: number };

/** A published batch as earlier runs saw it: every leaf it ever listed. */
export interface RememberedBatch {
  seq: number;
  batchId: string;
  root: string;
  chainId: number | null;
  contractAddress: string | null;
  blockNumber: number | null;
  firstSeen: number;
  leaves: PublishedLeaf[];
}

/**
 * What the monitor keeps between runs (MONITOR_STATE_FILE), per service: everything it has seen
 * published, never dropped, so that what vanishes is reported on every later run.
 */
export interface MonitorMemory {
  version: 1;
  /** Unix seconds of the run that wrote it. */
  savedAt: number;
  services: Record<string, { promises: RememberedPromise[]; batches: RememberedBatch[] }>;
}

// ---------------------------------------------------------------------------------------------
// The pure core
// ---------------------------------------------------------------------------------------------

const lower = (s: string | null | undefined): string => (s ?? '').toLowerCase();
const short = (hex: string): string => (hex.length > 14 ? `${hex.slice(0, 10)}…` : hex);
const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

/** Rebuilds a batch root from its leaves; null when a leaf is not 32 bytes of hex. */
function rootOf(leaves: string[]): string | null {
  try {
    return lower(SimpleMerkleTree.of(leaves).root);
  } catch {
    return null;
  }
}

/** A batch's published leaves, the root they hash to, and that said for a finding. */
function rebuild(batch: PublishedBatch): {
  leaves: string[];
  rebuilt: string | null;
  hashTo: string;
} {
  const leaves = batch.leaves.map((l) => lower(l.leaf));
  const rebuilt = leaves.length ? rootOf(leaves) : null;
  return {
    leaves,
    rebuilt,
    hashTo: `its ${leaves.length} published leaves hash to ${rebuilt ? short(rebuilt) : 'nothing (malformed leaves)'}`,
  };
}

/** One promise, whatever copy it comes from (not its recordId: the public log drops it). */
export function promiseId(p: PublishedPromise): string {
  return [p.signature, p.signer, p.chainId, p.recordKey, p.sequence, p.leaf, p.deadline]
    .map((x) => lower(String(x)))
    .join('|');
}

/** A promise's record for messages: its id when the copy has it, else its record key. */
const recordOf = (p: PublishedPromise): string =>
  p.recordId ? `${p.recordType}/${p.recordId}` : `${p.recordType} ${short(lower(p.recordKey))}`;

const leafId = (l: PublishedLeaf): string =>
  `${lower(l.leaf)}|${lower(l.recordKey)}|${l.sequence ?? ''}`;

/** Where a leaf was seen, for messages. */
interface Sighting {
  leaf: string;
  where: string;
  onChain: boolean;
}

export function checkLog(input: MonitorInput): Finding[] {
  return replayLog(input).findings;
}

/** checkLog with the counts the entry points print. */
export function replayLog(input: MonitorInput): MonitorReport {
  const findings: Finding[] = [];
  const add = (kind: FindingKind, subject: string, message: string): void => {
    findings.push({ kind, severity: FINDING_SEVERITY[kind], subject, message });
  };
  const known = new Set(input.knownAnchorers.map(lower));
  const contract = lower(input.contractAddress);
  const events = [...input.events].sort(
    (a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex,
  );

  // Who may anchor: every ANCHORER_ROLE grant must go to a known account.
  const anchorerRole = lower(ANCHORER_ROLE);
  const revokedAt = new Map<string, number>();
  for (const e of events) {
    if (e.name === 'RoleRevoked' && lower(e.role) === anchorerRole) {
      revokedAt.set(lower(e.account), e.blockNumber);
    }
  }
  for (const e of events) {
    if (e.name !== 'RoleGranted' || lower(e.role) !== anchorerRole) continue;
    if (known.has(lower(e.account))) continue;
    const revoked = revokedAt.get(lower(e.account));
    add(
      'unknown-anchorer',
      getAddress(e.account),
      `granted ANCHORER_ROLE by ${getAddress(e.sender)} in block ${e.blockNumber}` +
        (revoked !== undefined && revoked >= e.blockNumber
          ? `, revoked in block ${revoked}`
          : ', still holds it'),
    );
  }

  // Each anchorer's chain of roots, replayed in chain order.
  const anchors = events.filter((e): e is AnchorRecordedEvent => e.name === 'AnchorRecorded');
  const tip = new Map<string, { root: string; size: number }>();
  for (const e of anchors) {
    const who = lower(e.anchorer);
    const previous = tip.get(who) ?? { root: lower(ZERO_HASH), size: 0 };
    if (lower(e.previousRoot) !== previous.root) {
      add(
        'broken-chain',
        lower(e.root),
        `${getAddress(e.anchorer)} anchored it in block ${e.blockNumber} on previous root ` +
          `${short(lower(e.previousRoot))}, but its log ended at ${short(previous.root)}`,
      );
    } else if (e.size !== previous.size + 1) {
      add(
        'broken-chain',
        lower(e.root),
        `log size ${e.size} after ${previous.size} for ${getAddress(e.anchorer)} (block ${e.blockNumber})`,
      );
    }
    tip.set(who, { root: lower(e.root), size: e.size });
  }

  // The published batches of this log (this chain and contract), by root.
  let otherLogBatches = 0;
  const published = new Map<string, { log: PublishedLog; batch: PublishedBatch }[]>();
  const inThisLog: { log: PublishedLog; batch: PublishedBatch }[] = [];
  const otherLog: { log: PublishedLog; batch: PublishedBatch }[] = [];
  for (const log of input.logs) {
    for (const batch of log.batches) {
      if (batch.chainId !== input.chainId || lower(batch.contractAddress) !== contract) {
        otherLogBatches++;
        otherLog.push({ log, batch });
        continue;
      }
      inThisLog.push({ log, batch });
      const list = published.get(lower(batch.root)) ?? [];
      list.push({ log, batch });
      published.set(lower(batch.root), list);
    }
  }

  // Every root on chain: published by the service whose anchorer wrote it, and its published
  // leaves hash to it. Leaves that do are the log.
  const logged = new Map<string, Map<number, Sighting[]>>();
  const sight = (l: PublishedLeaf, s: Sighting): void => {
    if (l.recordKey === null || l.sequence === null) return;
    const key = lower(l.recordKey);
    const bySequence = logged.get(key) ?? new Map<number, Sighting[]>();
    logged.set(key, bySequence);
    const list = bySequence.get(l.sequence) ?? [];
    if (!list.some((x) => x.leaf === s.leaf && x.onChain === s.onChain)) list.push(s);
    bySequence.set(l.sequence, list);
  };
  const onChainRoots = new Map<string, AnchorRecordedEvent>();
  let leafCount = 0;
  for (const e of anchors) {
    const root = lower(e.root);
    onChainRoots.set(root, e);
    const candidates = published.get(root) ?? [];
    const own = candidates
      .filter((c) => lower(c.log.info.anchorer) === lower(e.anchorer))
      .sort(
        (a, b) => Number(a.batch.status === 'superseded') - Number(b.batch.status === 'superseded'),
      );
    if (!own.length) {
      const elsewhere = candidates.map((c) => c.log.info.service);
      add(
        'unpublished-root',
        root,
        `anchored by ${getAddress(e.anchorer)} in block ${e.blockNumber} (batch ${short(e.batchId)}, ` +
          `${e.recordCount} records), not in the published log of that anchorer` +
          (elsewhere.length ? ` (published by ${elsewhere.join(', ')}, another anchorer)` : ''),
      );
      continue;
    }
    const { log, batch } = own[0];
    const { leaves, rebuilt, hashTo } = rebuild(batch);
    if (rebuilt !== root) {
      add(
        'root-mismatch',
        root,
        `${log.info.service} batch ${batch.seq} (${batch.batchId}): ${hashTo}, not to the root anchored in block ${e.blockNumber}`,
      );
      continue;
    }
    if (leaves.length !== e.recordCount) {
      add(
        'root-mismatch',
        root,
        `${log.info.service} batch ${batch.seq}: ${leaves.length} leaves published, ${e.recordCount} anchored`,
      );
    }
    const where = `${log.info.service} batch ${batch.seq} (block ${e.blockNumber})`;
    for (const l of batch.leaves) sight(l, { leaf: lower(l.leaf), where, onChain: true });
    leafCount += leaves.length;
  }

  /** A superseded batch of this chain and contract whose root the chain does not hold. */
  const supersededOffChain = (log: PublishedLog, batch: PublishedBatch): void => {
    const root = lower(batch.root);
    const name = `${log.info.service} batch ${batch.seq} (${batch.batchId})`;
    // A block number is the service's word that the batch was mined: its chain is gone (a
    // fresh chain at the same address), so its leaves can no longer be proven, only compared.
    const mined = batch.blockNumber !== null;
    if (mined) {
      const { rebuilt, hashTo } = rebuild(batch);
      if (rebuilt !== root) {
        add(
          'root-mismatch',
          root,
          `${name}, superseded, anchored in block ${batch.blockNumber} of a chain that no longer ` +
            `holds it: ${hashTo}, not to its published root`,
        );
      }
      add(
        'chain-gone',
        root,
        `${name} is superseded; published as anchored in block ${batch.blockNumber}` +
          `${batch.txHash ? ` (tx ${short(batch.txHash)})` : ''} of chain ${batch.chainId}, contract ` +
          `${input.contractAddress}, which does not hold its root now: its ${batch.leaves.length} leaves ` +
          'are compared with the log (equivocation), not proven on chain',
      );
    }
    const where = mined
      ? `${log.info.service} batch ${batch.seq} (superseded, anchored in block ${batch.blockNumber} of a chain that no longer holds it)`
      : `${log.info.service} batch ${batch.seq} (superseded, published only)`;
    for (const l of batch.leaves) sight(l, { leaf: lower(l.leaf), where, onChain: false });
  };

  // What the services say is confirmed must be on chain, anchored by their own key.
  const inFlight = new Map<string, Set<number>>();
  for (const { log, batch } of inThisLog) {
    const onChain = onChainRoots.get(lower(batch.root));
    if (batch.status === 'confirmed') {
      if (!onChain) {
        add(
          'published-not-on-chain',
          lower(batch.root),
          `${log.info.service} batch ${batch.seq} (${batch.batchId}) is published as confirmed` +
            `${batch.txHash ? ` in tx ${short(batch.txHash)}` : ''} but its root is not anchored on ${input.contractAddress}`,
        );
      } else if (lower(onChain.anchorer) !== lower(log.info.anchorer)) {
        add(
          'published-not-on-chain',
          lower(batch.root),
          `${log.info.service} batch ${batch.seq}: root anchored by ${getAddress(onChain.anchorer)}, not by the service's anchorer ${log.info.anchorer}`,
        );
      }
    }
    if (batch.status === 'superseded') {
      // On chain, its leaves were read with the anchors above. Off chain, it is still the
      // service's word that these leaves were those entries: a re-anchoring that changed one is
      // a rewrite, whatever happened to the chain in between.
      if (!onChain) supersededOffChain(log, batch);
      continue;
    }
    const status = onChain ? 'on chain' : batch.status;
    for (const l of batch.leaves) {
      // Published-only leaves count for equivocation (a conflicting claim is one already).
      if (!onChain) {
        sight(l, {
          leaf: lower(l.leaf),
          where: `${log.info.service} batch ${batch.seq} (${status}, published only)`,
          onChain: false,
        });
      }
      const inFlightLeaf = batch.status === 'pending' || batch.status === 'sent';
      if (!onChain && inFlightLeaf && l.recordKey !== null && l.sequence !== null) {
        const set = inFlight.get(lower(l.recordKey)) ?? new Set<number>();
        set.add(l.sequence);
        inFlight.set(lower(l.recordKey), set);
      }
    }
  }

  // Batches of another chain or contract are not checked against this chain, but their leaves
  // are the service's word too: a record re-anchored here with another leaf is a rewrite.
  for (const { log, batch } of otherLog) {
    for (const l of batch.leaves) {
      sight(l, {
        leaf: lower(l.leaf),
        where:
          `${log.info.service} batch ${batch.seq} (${batch.status} on chain ${batch.chainId ?? '?'}, ` +
          `contract ${batch.contractAddress ?? '?'}: another log)`,
        onChain: false,
      });
    }
  }

  // What earlier runs saw published and is no longer: leaves, then promises (checked below).
  const rememberedPromises: PublishedPromise[] = [];
  for (const log of input.logs) {
    const memory = input.remembered?.services[log.info.service];
    if (!memory) continue;
    const current = new Map(log.batches.map((b) => [lower(b.batchId), b]));
    for (const old of memory.batches) {
      const now = current.get(lower(old.batchId));
      const listed = new Set((now?.leaves ?? []).map(leafId));
      const gone = old.leaves.filter((l) => !listed.has(leafId(l)));
      if (!gone.length) continue;
      const where =
        `${log.info.service} batch ${old.seq} (${old.batchId}) as published by ${iso(old.firstSeen)}, ` +
        'no longer';
      for (const l of gone) sight(l, { leaf: lower(l.leaf), where, onChain: false });
      add(
        'vanished-leaf',
        lower(old.root),
        `${log.info.service} batch ${old.seq} (${old.batchId}), published by ${iso(old.firstSeen)} ` +
          `with ${old.leaves.length} leaves: ` +
          (now
            ? `${gone.length} of them no longer listed (it lists ${now.leaves.length}, root ${short(lower(now.root))})`
            : 'the batch is no longer published') +
          `: ${gone
            .slice(0, 5)
            .map(
              (l) =>
                `${short(lower(l.leaf))} at ${l.recordKey ? `${lower(l.recordKey)}#${l.sequence}` : 'a version 1 entry'}`,
            )
            .join('; ')}${gone.length > 5 ? `; and ${gone.length - 5} more` : ''}`,
      );
    }
    const published = new Set(log.promises.map(promiseId));
    for (const p of memory.promises) {
      if (published.has(promiseId(p))) continue;
      rememberedPromises.push(p);
      add(
        'vanished-promise',
        `${lower(p.recordKey)}#${p.sequence}`,
        `${log.info.service} published this promise by ${iso(p.firstSeen)} (${recordOf(p)} entry ` +
          `${p.sequence}, leaf ${short(lower(p.leaf))}, deadline ${iso(p.deadline)}); its promise log ` +
          'no longer holds it',
      );
    }
  }

  // Per record key: one leaf per sequence, and sequences 1..n without a gap.
  for (const [recordKey, bySequence] of logged) {
    for (const [sequence, sightings] of bySequence) {
      const distinct = [...new Set(sightings.map((s) => s.leaf))];
      if (distinct.length > 1) {
        add(
          'equivocation',
          `${recordKey}#${sequence}`,
          `${distinct.length} leaves for one entry: ` +
            sightings.map((s) => `${short(s.leaf)} in ${s.where}`).join('; '),
        );
      }
    }
    const anchored = [...bySequence]
      .filter(([, s]) => s.some((x) => x.onChain))
      .map(([sequence]) => sequence);
    if (!anchored.length) continue;
    const max = Math.max(...anchored);
    const have = new Set(anchored);
    const flying = inFlight.get(recordKey) ?? new Set<number>();
    const missing: number[] = [];
    for (let s = 1; s <= max; s++) if (!have.has(s) && !flying.has(s)) missing.push(s);
    if (missing.length) {
      add(
        'sequence-gap',
        recordKey,
        `sequence${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing below ${max} in the log`,
      );
    }
  }

  // Promises: signed by a known anchorer, and kept by the log.
  const seen = new Set<string>();
  let promisesChecked = 0;
  let promisesPending = 0;
  const allPromises = [
    ...input.logs.flatMap((l) => l.promises),
    ...(input.promises ?? []),
    ...rememberedPromises,
  ];
  for (const p of allPromises) {
    // The same promise can be both published and in the file: check it once.
    const id = promiseId(p);
    if (seen.has(id)) continue;
    seen.add(id);
    promisesChecked++;
    const subject = `${lower(p.recordKey)}#${p.sequence}`;
    // The digest covers the record key, not the id.
    const signer = promiseSigner(p as AnchorPromise);
    if (!signer || lower(signer) !== lower(p.signer) || !known.has(lower(signer))) {
      add(
        'bad-signature',
        subject,
        `promise for ${recordOf(p)} says signer ${p.signer}; its signature ` +
          (signer
            ? `recovers ${signer}${known.has(lower(signer)) ? '' : ', not a known anchorer'}`
            : 'is malformed'),
      );
      continue;
    }
    // A promise about another chain is not this log's to keep (nor to break).
    if (p.chainId !== input.chainId) continue;
    const sightings = (logged.get(lower(p.recordKey))?.get(p.sequence) ?? []).filter(
      (s) => s.onChain,
    );
    if (sightings.some((s) => s.leaf === lower(p.leaf))) continue;
    if (sightings.length) {
      add(
        'broken-promise',
        subject,
        `promised leaf ${short(lower(p.leaf))} for ${recordOf(p)} entry ${p.sequence}; ` +
          `the log holds ${sightings.map((s) => `${short(s.leaf)} (${s.where})`).join(', ')}`,
      );
    } else if (p.deadline < input.now) {
      add(
        'broken-promise',
        subject,
        `${recordOf(p)} entry ${p.sequence}: deadline ${iso(p.deadline)} passed and ` +
          `leaf ${short(lower(p.leaf))} is not in the log`,
      );
    } else {
      promisesPending++;
    }
  }

  const order = new Map<FindingKind, number>(FINDING_KINDS.map((k, i) => [k, i]));
  findings.sort((a, b) => order.get(a.kind)! - order.get(b.kind)!);
  return {
    findings,
    stats: {
      batches: anchors.length,
      leaves: leafCount,
      records: [...logged.values()].filter((m) =>
        [...m.values()].some((s) => s.some((x) => x.onChain)),
      ).length,
      promises: promisesChecked,
      promisesPending,
      otherLogBatches,
    },
  };
}

/**
 * The memory after a run: the earlier one plus what `logs` publish now. Nothing is dropped, so
 * what vanished stays remembered and is reported again on the next run.
 */
export function rememberLogs(
  previous: MonitorMemory | undefined,
  logs: PublishedLog[],
  now: number,
): MonitorMemory {
  const services: MonitorMemory['services'] = structuredClone(previous?.services ?? {});
  for (const log of logs) {
    const memory = (services[log.info.service] ??= { promises: [], batches: [] });
    const known = new Set(memory.promises.map(promiseId));
    for (const p of log.promises) {
      if (known.has(promiseId(p))) continue;
      known.add(promiseId(p));
      memory.promises.push({ ...p, firstSeen: now });
    }
    const byId = new Map(memory.batches.map((b) => [lower(b.batchId), b]));
    for (const batch of log.batches) {
      let old = byId.get(lower(batch.batchId));
      if (!old) {
        old = {
          seq: batch.seq,
          batchId: batch.batchId,
          root: lower(batch.root),
          chainId: batch.chainId,
          contractAddress: batch.contractAddress,
          blockNumber: batch.blockNumber,
          firstSeen: now,
          leaves: [],
        };
        byId.set(lower(batch.batchId), old);
        memory.batches.push(old);
      }
      // A pending batch gets its block later; its leaves never change.
      old.blockNumber ??= batch.blockNumber;
      const have = new Set(old.leaves.map(leafId));
      for (const l of batch.leaves) {
        if (have.has(leafId(l))) continue;
        have.add(leafId(l));
        old.leaves.push({ leaf: lower(l.leaf), recordKey: l.recordKey, sequence: l.sequence });
      }
    }
  }
  return { version: 1, savedAt: now, services };
}

/** How much a memory holds, for the run's summary. */
export function memorySize(memory: MonitorMemory | undefined): {
  promises: number;
  leaves: number;
} {
  const all = Object.values(memory?.services ?? {});
  return {
    promises: all.reduce((n, m) => n + m.promises.length, 0),
    leaves: all.reduce((n, m) => n + m.batches.reduce((k, b) => k + b.leaves.length, 0), 0),
  };
}

/**
 * Every promise in a saved text: one or more JSON documents one after the other (a JSON array
 * of promises, a page of the public promise log as curl saved it, several pages appended, the
 * answer of a placement or of the record API). A promise is any object whose `type` is §4's
 * domain; the rest is ignored.
 */
export function promisesIn(text: string, name = 'promises'): PublishedPromise[] {
  const found: PublishedPromise[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      value.forEach(walk);
    } else if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if (o.type === PROMISE_DOMAIN && typeof o.signature === 'string') {
        found.push(o as unknown as PublishedPromise);
      } else {
        Object.values(o).forEach(walk);
      }
    }
  };
  for (const doc of jsonDocuments(text, name)) walk(doc);
  return found;
}

/** Splits concatenated JSON documents (`curl >> file` several times) and parses each. */
function jsonDocuments(text: string, name: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if (c === '}' || c === ']') {
      if (--depth === 0) {
        try {
          docs.push(JSON.parse(text.slice(start, i + 1)));
        } catch (err) {
          throw new Error(`${name}: not JSON at offset ${start} (${(err as Error).message})`);
        }
      }
      if (depth < 0) throw new Error(`${name}: not JSON at offset ${i}`);
    } else if (depth === 0 && !/\s/.test(c)) {
      throw new Error(`${name}: expected JSON objects or arrays, found "${c}" at offset ${i}`);
    }
  }
  if (depth !== 0 || inString) throw new Error(`${name}: truncated JSON`);
  return docs;
}

// ---------------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------------

/** The events the monitor reads, spelled out from §2 (not taken from the services' ABI). */
export const MONITOR_EVENTS = new Interface([
  'event AnchorRecorded(bytes32 indexed batchId, bytes32 indexed root, address indexed anchorer, bytes32 previousRoot, uint32 recordCount, uint64 size)',
  'event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)',
  'event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)',
]);

/** The first block holding the contract's code (binary search on eth_getCode). */
export async function findDeploymentBlock(provider: Provider, address: string): Promise<number> {
  const latest = await provider.getBlockNumber();
  if ((await provider.getCode(address, latest)) === '0x') {
    throw new Error(`no contract at ${address} (block ${latest})`);
  }
  let [low, high] = [0, latest];
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if ((await provider.getCode(address, mid)) === '0x') low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The contract's AnchorRecorded, RoleGranted and RoleRevoked events, in chain order. */
export async function fetchChainEvents(
  provider: Provider,
  address: string,
  fromBlock = 0,
  toBlock?: number,
  blocksPerQuery = 10_000,
): Promise<ChainEvent[]> {
  const last = toBlock ?? (await provider.getBlockNumber());
  const topics = ['AnchorRecorded', 'RoleGranted', 'RoleRevoked'].map(
    (name) => MONITOR_EVENTS.getEvent(name)!.topicHash,
  );
  const events: ChainEvent[] = [];
  for (let from = fromBlock; from <= last; from += blocksPerQuery) {
    const logs = await provider.getLogs({
      address,
      fromBlock: from,
      toBlock: Math.min(last, from + blocksPerQuery - 1),
      topics: [topics],
    });
    for (const log of logs) {
      const parsed = MONITOR_EVENTS.parseLog(log);
      if (!parsed) continue;
      const position = {
        blockNumber: log.blockNumber,
        logIndex: log.index,
        txHash: log.transactionHash,
      };
      const a = parsed.args;
      if (parsed.name === 'AnchorRecorded') {
        events.push({
          name: 'AnchorRecorded',
          ...position,
          batchId: a.batchId as string,
          root: a.root as string,
          anchorer: a.anchorer as string,
          previousRoot: a.previousRoot as string,
          recordCount: Number(a.recordCount),
          size: Number(a.size),
        });
      } else {
        events.push({
          name: parsed.name as RoleEvent['name'],
          ...position,
          role: a.role as string,
          account: a.account as string,
          sender: a.sender as string,
        });
      }
    }
  }
  return events.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
}

type Fetch = typeof fetch;

async function getJson(url: string, fetchImpl: Fetch): Promise<unknown> {
  const res = await fetchImpl(url).catch((err: unknown) => {
    throw new Error(`GET ${url}: ${(err as Error).message}`);
  });
  const body = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) throw new Error(`GET ${url} → ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** Every item of an append-only log read by cursor (`after=next` while `hasMore`). */
async function allPages<T>(url: string, fetchImpl: Fetch): Promise<T[]> {
  const items: T[] = [];
  for (let after = 0; ;) {
    const body = (await getJson(`${url}?after=${after}&limit=100`, fetchImpl)) as {
      items?: T[];
      next?: number;
      hasMore?: boolean;
    };
    if (
      !Array.isArray(body?.items) ||
      !Number.isSafeInteger(body.next) ||
      typeof body.hasMore !== 'boolean'
    ) {
      throw new Error(`GET ${url}: not a log page`);
    }
    items.push(...body.items);
    if (!body.hasMore) return items;
    // A server that says there is more but does not move on would be read forever.
    if (body.next! <= after) throw new Error(`GET ${url}: the cursor did not move past ${after}`);
    after = body.next!;
  }
}

/** One service's public log (§3): its info, every batch and every promise, all pages. */
export async function fetchPublishedLog(
  gatewayUrl: string,
  service: string,
  fetchImpl: Fetch = fetch,
): Promise<PublishedLog> {
  const base = `${gatewayUrl.replace(/\/$/, '')}/api/blockchain/${service}/log`;
  const info = (await getJson(`${base}/info`, fetchImpl)) as LogInfo;
  const [batches, promises] = await Promise.all([
    allPages<PublishedBatch>(base, fetchImpl),
    allPages<PublishedPromise>(`${base}/promises`, fetchImpl),
  ]);
  return { info, batches, promises };
}

// ---------------------------------------------------------------------------------------------
// The entry points' shared run
// ---------------------------------------------------------------------------------------------

/** The fields of deployments/<network>.json the monitor reads. */
export interface DeploymentInfo {
  address: string;
  chainId: number;
  anchorers: string[];
  blockNumber: number;
}

export function readDeployment(file: string): DeploymentInfo {
  return JSON.parse(readFileSync(file, 'utf8')) as DeploymentInfo;
}

/** The promises a saved file holds, in any of the shapes `promisesIn` reads. */
export function readPromisesFile(file: string): PublishedPromise[] {
  return promisesIn(readFileSync(file, 'utf8'), file);
}

/**
 * Where the monitor keeps what it has seen between runs. The store does the I/O (a file:
 * monitor-state.ts) so that this module stays loadable in a browser.
 */
export interface MonitorStateStore {
  /** For messages: the file. */
  name: string;
  /** null on the first run (nothing kept yet). */
  load(): MonitorMemory | null;
  save(memory: MonitorMemory): void;
}

export interface MonitorOptions {
  provider: Provider;
  gatewayUrl: string;
  /** Services whose public logs to read (default order, payment). */
  services?: string[];
  /** Overrides the deployment's address. */
  contractAddress?: string;
  deployment?: DeploymentInfo;
  /** Overrides the default (the services' anchorers and the deployment's). */
  knownAnchorers?: string[];
  promises?: PublishedPromise[];
  /** Keeps what was seen published between runs; without it nothing is kept. */
  state?: MonitorStateStore;
  /** First block to read (default: the deployment's block, else found by eth_getCode). */
  fromBlock?: number;
  /** Unix seconds (default now). */
  now?: number;
  fetchImpl?: Fetch;
  print?: (line: string) => void;
}

/** Renders findings as an aligned text table: severity | kind | subject | message. */
export function findingsTable(findings: Finding[]): string {
  const rows = [
    ['severity', 'kind', 'subject', 'message'],
    ...findings.map((f) => [f.severity, f.kind, f.subject, f.message]),
  ];
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    `${r
      .slice(0, 3)
      .map((c, i) => c.padEnd(width[i]))
      .join('  ')}  ${r[3]}`.trimEnd();
  return [
    line(rows[0]),
    line([...width.map((w) => '-'.repeat(w)), '-------']),
    ...rows.slice(1).map(line),
  ].join('\n');
}

/**
 * Fetches, checks and prints; resolves to the exit code: 0 no findings, 1 an error-level
 * finding, 3 warnings only (2 is the entry points' "could not run").
 */
export async function runMonitor(options: MonitorOptions): Promise<number> {
  const print = options.print ?? ((line: string) => console.log(line));
  const services = options.services ?? ['order', 'payment'];
  const logs = await Promise.all(
    services.map((s) => fetchPublishedLog(options.gatewayUrl, s, options.fetchImpl)),
  );
  const network = await options.provider.getNetwork();
  const chainId = Number(network.chainId);
  const fromServices = [...new Set(logs.map((l) => lower(l.info.contractAddress)))];
  const address = getAddress(
    options.contractAddress ??
      options.deployment?.address ??
      (fromServices.length === 1 ? fromServices[0] : ''),
  );
  for (const l of logs) {
    if (lower(l.info.contractAddress) !== lower(address) || l.info.chainId !== chainId) {
      print(
        `note: ${l.info.service} publishes chain ${l.info.chainId} contract ${l.info.contractAddress}; ` +
          `this run checks chain ${chainId} contract ${address}`,
      );
    }
  }
  const knownAnchorers = options.knownAnchorers ?? [
    ...new Set(
      [...logs.map((l) => l.info.anchorer), ...(options.deployment?.anchorers ?? [])].map((a) =>
        getAddress(a),
      ),
    ),
  ];
  const fromBlock =
    options.fromBlock ??
    (options.deployment && lower(options.deployment.address) === lower(address)
      ? options.deployment.blockNumber
      : await findDeploymentBlock(options.provider, address));
  const events = await fetchChainEvents(options.provider, address, fromBlock);
  // Read before the check, so that a state file that cannot be read stops the run (exit 2)
  // instead of starting over and forgetting what vanished.
  const remembered = options.state?.load() ?? undefined;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const started = performance.now();
  const { findings, stats } = replayLog({
    chainId,
    contractAddress: address,
    events,
    logs,
    promises: options.promises,
    remembered,
    knownAnchorers,
    now,
  });
  const seconds = (performance.now() - started) / 1000;
  print(
    `monitor: chain ${chainId}, contract ${address} from block ${fromBlock}; ` +
      `logs: ${logs.map((l) => `${l.info.service} (anchorer ${l.info.anchorer})`).join(', ')}; ` +
      `known anchorers: ${knownAnchorers.join(', ')}`,
  );
  const counts =
    `${stats.batches} batches, ${stats.leaves} leaves, ${stats.records} records, ` +
    `${stats.promises} promises checked (${stats.promisesPending} pending), ` +
    `${Math.round(stats.leaves / Math.max(seconds, 1e-6)).toLocaleString('en-US')} leaves/s` +
    (stats.otherLogBatches
      ? `; ${stats.otherLogBatches} published batches of other logs skipped`
      : '');
  if (options.promises) {
    print(`kept promises given to it: ${options.promises.length}`);
  }
  if (options.state) {
    const memory = rememberLogs(remembered, logs, now);
    options.state.save(memory);
    const before = memorySize(remembered);
    const after = memorySize(memory);
    print(
      `state ${options.state.name}: ${remembered ? 'read, ' : 'first run, '}now remembers ` +
        `${after.promises} promises and ${after.leaves} leaves ` +
        `(${after.promises - before.promises} and ${after.leaves - before.leaves} new)`,
    );
  }
  if (!findings.length) {
    print(`no findings: ${counts}`);
    return 0;
  }
  print(findingsTable(findings));
  print(`${findings.length} finding${findings.length === 1 ? '' : 's'}: ${counts}`);
  return findings.some((f) => f.severity === 'error') ? 1 : 3;
}
