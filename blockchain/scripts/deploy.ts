/**
 * Deploys AuditAnchor and writes deployments/<network>.json (address, ABI, anchorers), where the
 * services and the query scripts find it. `npx hardhat run scripts/deploy.ts --network localhost`
 * ANCHORER_ADDRESSES=0x..,0x.. names the anchorer accounts; by default (Hardhat chains) accounts
 * #1..#4, one per service, since each key must have a single writer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ethers, network } from 'hardhat';
import { AUDIT_ANCHOR_ABI } from '@ecom/common/anchoring';
import { DEPLOYMENTS_DIR, deploymentFile, type Deployment } from './lib';

async function main(): Promise<void> {
  const signers = await ethers.getSigners();
  const [deployer] = signers;
  const anchorers = process.env.ANCHORER_ADDRESSES
    ? process.env.ANCHORER_ADDRESSES.split(',').map((a) => ethers.getAddress(a.trim()))
    : signers.slice(1, 5).map((s) => s.address);
  if (!anchorers.length) throw new Error('no anchorer: set ANCHORER_ADDRESSES');
  const contract = await ethers.deployContract('AuditAnchor', [deployer.address, anchorers[0]]);
  await contract.waitForDeployment();
  const role = (await contract.ANCHORER_ROLE()) as string;
  for (const a of anchorers.slice(1)) await (await contract.grantRole(role, a)).wait();
  const tx = contract.deploymentTransaction();
  const receipt = await tx?.wait();
  const deployment: Deployment = {
    network: network.name,
    chainId: Number((await ethers.provider.getNetwork()).chainId),
    address: await contract.getAddress(),
    deployer: deployer.address,
    anchorers,
    txHash: tx?.hash ?? '',
    blockNumber: receipt?.blockNumber ?? 0,
    deployedAt: new Date().toISOString(),
    abi: [...AUDIT_ANCHOR_ABI],
  };
  mkdirSync(DEPLOYMENTS_DIR, { recursive: true });
  writeFileSync(deploymentFile(), `${JSON.stringify(deployment, null, 2)}\n`);
  console.log(
    `AuditAnchor at ${deployment.address} on ${network.name} (chain ${deployment.chainId})`,
  );
  console.log(`anchorers: ${anchorers.join(', ')}`);
  console.log(`wrote ${path.relative(process.cwd(), deploymentFile())}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
