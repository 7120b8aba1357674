/**
 * Deploys AuditAnchor and writes deployments/<network>.json (address, ABI, the anchorers it
 * granted, deploy block), where the services, the query scripts and the monitor find it.
 * `npx hardhat run scripts/deploy.ts --network localhost`
 * ANCHORER_ADDRESSES=0x..,0x.. names the anchorer accounts; by default (Hardhat chains) accounts
 * #1..#4, one per service, since each key must have a single writer (and its own log).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ethers, network } from 'hardhat';
import { anchorAbi, DEPLOYMENTS_DIR, deploymentFile, type Deployment } from './lib';

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
  // Written only once every grant is mined, so the file never names an account without the role.
  for (const a of anchorers) {
    if (!(await contract.hasRole(role, a))) throw new Error(`${a} did not get ANCHORER_ROLE`);
  }
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
    abi: await anchorAbi(),
  };
  mkdirSync(DEPLOYMENTS_DIR, { recursive: true });
  writeFileSync(deploymentFile(), `${JSON.stringify(deployment, null, 2)}\n`);
  console.log(
    `AuditAnchor at ${deployment.address} on ${network.name} (chain ${deployment.chainId}), block ${deployment.blockNumber}`,
  );
  console.log(`admin: ${deployer.address}`);
  console.log(`anchorers granted ANCHORER_ROLE (one per service, each its own log):`);
  anchorers.forEach((a, i) => console.log(`  ${i + 1}. ${a}`));
  console.log(`wrote ${path.relative(process.cwd(), deploymentFile())}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
