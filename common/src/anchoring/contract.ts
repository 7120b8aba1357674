import { Contract, ContractFactory, type ContractRunner, type Signer } from 'ethers';
// The compiled contract, exported from Hardhat's artifact so that no service needs Hardhat.
import artifact from './audit-anchor-artifact.json';

export const AUDIT_ANCHOR_ABI = artifact.abi;
export const AUDIT_ANCHOR_BYTECODE = artifact.bytecode;

/** On-chain anchor of a root (blockNumber 0 = not anchored). */
export interface OnChainAnchor {
  anchored: boolean;
  recordCount: number;
  timestamp: number;
  blockNumber: number;
}

export function auditAnchorAt(address: string, runner: ContractRunner): Contract {
  return new Contract(address, AUDIT_ANCHOR_ABI, runner);
}

/**
 * Deploys AuditAnchor with `signer` as admin; `anchorer` (default: the signer) gets ANCHORER_ROLE.
 * Returns the address once the deployment is mined.
 */
export async function deployAuditAnchor(signer: Signer, anchorer?: string): Promise<string> {
  const admin = await signer.getAddress();
  const factory = new ContractFactory(AUDIT_ANCHOR_ABI, AUDIT_ANCHOR_BYTECODE, signer);
  const contract = await factory.deploy(admin, anchorer ?? admin);
  await contract.waitForDeployment();
  return contract.getAddress();
}

export async function readAnchor(contract: Contract, root: string): Promise<OnChainAnchor> {
  const [anchored, recordCount, timestamp, blockNumber] = (await contract.anchorOf(root)) as [
    boolean,
    bigint,
    bigint,
    bigint,
  ];
  return {
    anchored,
    recordCount: Number(recordCount),
    timestamp: Number(timestamp),
    blockNumber: Number(blockNumber),
  };
}
