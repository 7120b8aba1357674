/**
 * Helpers shared by the query scripts: the deployment file, the gateway, and an independent
 * check of a record's entries (docs/verification.md §5) with the hashes of src/verification.ts,
 * never the services' own code: a leaf is always recomputed, never taken from the answer.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Contract } from 'ethers';
import { artifacts, ethers, network } from 'hardhat';
import {
  checkEntries,
  parseCanonical,
  type EntryCheck,
  type EntryReceipt,
} from '../src/verification';

export interface Deployment {
  network: string;
  chainId: number;
  address: string;
  deployer: string;
  anchorers: string[];
  txHash: string;
  blockNumber: number;
  deployedAt: string;
  abi: unknown[];
}

export const DEPLOYMENTS_DIR = path.join(__dirname, '..', 'deployments');

export function deploymentFile(name = network.name): string {
  return path.join(DEPLOYMENTS_DIR, `${name}.json`);
}

export function readDeploymentFile(): Deployment | undefined {
  const file = deploymentFile();
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Deployment) : undefined;
}

/** The ABI of the compiled contract (Hardhat compiles before `run`). */
export async function anchorAbi(): Promise<unknown[]> {
  return [...(await artifacts.readArtifact('AuditAnchor')).abi] as unknown[];
}

export async function contractAt(address: string): Promise<Contract> {
  return new ethers.Contract(
    address,
    (await anchorAbi()) as ConstructorParameters<typeof ethers.Contract>[1],
    ethers.provider,
  );
}

/** The contract: CONTRACT_ADDRESS if set, else deployments/<network>.json. */
export async function anchorContract(): Promise<Contract> {
  let address = process.env.CONTRACT_ADDRESS;
  if (!address) {
    const deployment = readDeploymentFile();
    if (!deployment) {
      throw new Error(
        `no ${path.relative(process.cwd(), deploymentFile())}: run scripts/deploy.ts first or set CONTRACT_ADDRESS`,
      );
    }
    address = deployment.address;
  }
  return contractAt(address);
}

export function requireEnv(name: string, example: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`set ${name}, e.g. ${name}=${example} npx hardhat run ... --network localhost`);
  return value;
}

export const gatewayUrl = (): string => process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';

/** GET on the gateway, sending TOKEN as `Authorization: Bearer <TOKEN>` when set. */
export async function gatewayGet(route: string): Promise<{ status: number; body: unknown }> {
  const url = `${gatewayUrl()}${route}`;
  const headers: Record<string, string> = {};
  if (process.env.TOKEN) headers.authorization = `Bearer ${process.env.TOKEN}`;
  const res = await fetch(url, { headers }).catch((err: unknown) => {
    throw new Error(`service not reachable at ${url} (${(err as Error).message}); set GATEWAY_URL`);
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as unknown };
}

/** One entry as the record API or the verify API answers it, flattened. */
export interface ServiceEntry extends EntryReceipt {
  recordType?: string;
  recordId?: string;
  sourceId?: string;
  status?: string;
  reason?: string;
  contractAddress?: string | null;
  txHash?: string | null;
  blockNumber?: number | null;
}

/** The entries of an answer: `entries` or `records`, each flat or with its fields under `receipt`. */
export function entriesOf(body: unknown): ServiceEntry[] {
  const list = (
    Array.isArray(body)
      ? body
      : ((body as { entries?: unknown[]; records?: unknown[] } | null)?.entries ??
        (body as { records?: unknown[] } | null)?.records ??
        [])
  ) as (ServiceEntry & { receipt?: Partial<ServiceEntry> })[];
  return list.map(({ receipt, ...entry }) => ({ ...entry, ...(receipt ?? {}) }) as ServiceEntry);
}

/** The published signer of a service (its public /log/info); null when it cannot be read. */
export async function publishedSigner(kind: string): Promise<string | null> {
  try {
    const { status, body } = await gatewayGet(`/api/blockchain/${kind}/log/info`);
    return status === 200 ? ((body as { anchorer?: string }).anchorer ?? null) : null;
  } catch {
    return null;
  }
}

export interface CheckedEntry {
  entry: ServiceEntry;
  check: EntryCheck;
  /** The contract's `verify(recomputed leaf, proof, root)`; null when not anchored or not asked. */
  onChain: boolean | null;
}

/** The one eth_call per anchored entry, made with the leaf recomputed offline. */
async function askChain(entry: ServiceEntry, check: EntryCheck): Promise<boolean | null> {
  if (!check.anchored || !check.leaf || !entry.proof || !entry.root) return null;
  const contract = entry.contractAddress
    ? await contractAt(entry.contractAddress)
    : await anchorContract();
  return (await contract.verify(check.leaf, entry.proof, entry.root)) as boolean;
}

/**
 * Checks entries without trusting the service: offline steps first (leaf, chain when `chain`,
 * proof, promise), then the chain for each anchored entry.
 */
export async function checkServiceEntries(
  recordType: string,
  recordId: string,
  entries: ServiceEntry[],
  signers: string[],
  chain = true,
): Promise<CheckedEntry[]> {
  const checks = chain
    ? checkEntries(recordType, recordId, entries, signers)
    : entries.map((e) => checkEntries(recordType, recordId, [e], signers, false)[0]);
  const out: CheckedEntry[] = [];
  for (const [i, entry] of entries.entries()) {
    const check = checks[i];
    const onChain = await askChain(entry, check);
    if (onChain === false) check.problems.push('the contract does not accept leaf + proof + root');
    out.push({ entry, check, onChain });
  }
  return out;
}

/**
 * One line per entry: what the service says, and what the independent check found (`chained`:
 * whether the record's hash chain was part of it).
 */
export function describe(c: CheckedEntry, chained = true): string {
  const { entry, check } = c;
  const [anchored, pending] = chained
    ? ['leaf recomputed, chain and proof hold', 'leaf recomputed, chain holds']
    : ['leaf recomputed, proof holds', 'leaf recomputed'];
  return [
    `- ${check.sequence !== null ? `#${check.sequence}` : `v${check.version ?? '?'}`} ${entry.sourceId ?? ''}`.trimEnd(),
    `service says ${entry.status ?? '?'}${entry.reason ? ` (${entry.reason})` : ''}`,
    check.problems.length
      ? `CHECK FAILED: ${check.problems.join('; ')}`
      : c.onChain
        ? `verified: ${anchored}, contract accepts it`
        : `${pending}; not anchored yet`,
    entry.txHash ? `tx ${entry.txHash} block ${entry.blockNumber}` : 'no tx yet',
  ].join(' | ');
}

/** Names an entry's record from its own canonical text when the answer does not. */
export function recordOf(entry: ServiceEntry): { recordType: string; recordId: string } {
  if (entry.recordType && entry.recordId) {
    return { recordType: entry.recordType, recordId: entry.recordId };
  }
  try {
    const doc = parseCanonical(entry.canonical);
    return { recordType: String(doc.recordType), recordId: String(doc.recordId) };
  } catch {
    return { recordType: '?', recordId: '?' };
  }
}

/** Fetches the service's entries of an order or a payment and checks every one itself. */
export async function lookup(kind: 'order' | 'payment', id: string): Promise<void> {
  const route = `/api/blockchain/${kind}/${encodeURIComponent(id)}`;
  const { status, body } = await gatewayGet(route);
  if (status !== 200)
    throw new Error(`GET ${gatewayUrl()}${route} → ${status} ${JSON.stringify(body)}`);
  const entries = entriesOf(body);
  const signer = await publishedSigner(kind);
  const verdict = body as { status?: string; reasons?: string[] } | null;
  const says = verdict?.status
    ? `, service says ${verdict.status}${verdict.reasons?.length ? ` (${verdict.reasons.join('; ')})` : ''}`
    : '';
  console.log(
    `${kind} ${id}: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${says} (service at ${gatewayUrl()}; ` +
      `published signer ${signer ?? 'unknown: promise signatures checked against their own signer only'})`,
  );
  const checked = await checkServiceEntries(kind, id, entries, signer ? [signer] : []);
  for (const c of checked) console.log(describe(c));
  const failed = checked.filter((c) => c.check.problems.length).length;
  console.log(
    failed
      ? `${failed} of ${checked.length} entries FAILED the independent check`
      : `all ${checked.length} entries pass the independent check`,
  );
  // The check covers the entries; only the live record shows an edit made without one. The
  // service's own TAMPERED is kept, not outweighed by intact entries.
  const tampered = verdict?.status === 'TAMPERED';
  if (tampered)
    console.log(
      `the service reports the live ${kind} TAMPERED: its entries are intact, the record is not ` +
        '(compare the live record with the newest entry, as the audit explorer does)',
    );
  if (failed || tampered) process.exitCode = 1;
}
