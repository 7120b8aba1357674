/** Helpers shared by the query scripts: the deployment file and an independent receipt check. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Contract } from 'ethers';
import { ethers, network } from 'hardhat';
import { AUDIT_ANCHOR_ABI, leafHash, type AnchorReceipt } from '@ecom/common/anchoring';

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

/** The contract: CONTRACT_ADDRESS if set, else deployments/<network>.json. */
export async function anchorContract(): Promise<Contract> {
  let address = process.env.CONTRACT_ADDRESS;
  if (!address) {
    const file = deploymentFile();
    if (!existsSync(file)) {
      throw new Error(
        `no ${path.relative(process.cwd(), file)}: run scripts/deploy.ts first or set CONTRACT_ADDRESS`,
      );
    }
    address = (JSON.parse(readFileSync(file, 'utf8')) as Deployment).address;
  }
  return new ethers.Contract(address, AUDIT_ANCHOR_ABI, ethers.provider);
}

export function requireEnv(name: string, example: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`set ${name}, e.g. ${name}=${example} npx hardhat run ... --network localhost`);
  return value;
}

export const gatewayUrl = (): string => process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';

export interface ReceiptCheck {
  leafMatches: boolean;
  onChain: boolean | null;
  detail: string;
}

/**
 * Checks a receipt without trusting the service: rehash the canonical text with the salt, then
 * ask the contract (the one eth_call) whether leaf + proof lead to an anchored root.
 */
export async function checkReceipt(receipt: AnchorReceipt): Promise<ReceiptCheck> {
  const leaf = leafHash(receipt.canonical, receipt.salt, receipt.serializationVersion);
  const leafMatches = leaf === receipt.leaf;
  if (!receipt.root || !receipt.proof || !receipt.contractAddress) {
    return { leafMatches, onChain: null, detail: 'not anchored yet' };
  }
  const contract = new ethers.Contract(receipt.contractAddress, AUDIT_ANCHOR_ABI, ethers.provider);
  const onChain = (await contract.verify(leaf, receipt.proof, receipt.root)) as boolean;
  return {
    leafMatches,
    onChain,
    detail: !leafMatches
      ? 'canonical text does not hash to the leaf'
      : onChain
        ? 'verified on chain'
        : 'proof/root not accepted by the contract',
  };
}

/** Fetches the service's view of an order or a payment and checks each receipt on chain. */
export async function lookup(kind: 'order' | 'payment', id: string): Promise<void> {
  const url = `${gatewayUrl()}/api/blockchain/${kind}/${encodeURIComponent(id)}`;
  const headers: Record<string, string> = {};
  if (process.env.TOKEN) headers.authorization = `Bearer ${process.env.TOKEN}`;
  const res = await fetch(url, { headers }).catch((err: unknown) => {
    throw new Error(`service not reachable at ${url} (${(err as Error).message}); set GATEWAY_URL`);
  });
  const body = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) throw new Error(`GET ${url} → ${res.status} ${JSON.stringify(body)}`);
  const records = (
    Array.isArray(body) ? body : ((body as { records?: unknown[] })?.records ?? [])
  ) as {
    sourceId: string;
    status: string;
    receipt: AnchorReceipt;
  }[];
  console.log(`${kind} ${id}: ${records.length} anchored record(s) (service at ${gatewayUrl()})`);
  for (const r of records) {
    const check = await checkReceipt(r.receipt);
    console.log(
      [
        `- ${r.receipt.recordType}/${r.sourceId}`,
        `service says ${r.status}`,
        `chain check: ${check.detail}`,
        r.receipt.txHash ? `tx ${r.receipt.txHash} block ${r.receipt.blockNumber}` : 'no tx yet',
      ].join(' | '),
    );
  }
}
