/**
 * Lists the most recent anchors (AnchorRecorded events), newest first; ANCHORER=0x... keeps one
 * anchorer's log.
 * COUNT=20 npx hardhat run scripts/list-anchors.ts --network localhost
 */
import type { EventLog } from 'ethers';
import { ethers } from 'hardhat';
import { anchorContract, readDeploymentFile } from './lib';

async function main(): Promise<void> {
  const count = Number(process.env.COUNT ?? 20);
  const contract = await anchorContract();
  const address = await contract.getAddress();
  const deployment = readDeploymentFile();
  const from =
    deployment?.address.toLowerCase() === address.toLowerCase() ? deployment.blockNumber : 0;
  const anchorer = process.env.ANCHORER ? ethers.getAddress(process.env.ANCHORER) : null;
  const events = (await contract.queryFilter(
    contract.filters.AnchorRecorded(null, null, anchorer),
    from,
  )) as EventLog[];
  const recent = events.slice(-count).reverse();
  console.log(
    `${events.length} anchor(s) at ${address}${anchorer ? ` by ${anchorer}` : ''}; latest ${recent.length}:`,
  );
  const times = new Map<number, number>();
  for (const e of recent) {
    if (!times.has(e.blockNumber)) {
      times.set(e.blockNumber, (await ethers.provider.getBlock(e.blockNumber))?.timestamp ?? 0);
    }
    console.log(
      [
        `block ${e.blockNumber}`,
        new Date(times.get(e.blockNumber)! * 1000).toISOString(),
        `anchorer ${e.args.anchorer} #${e.args.size}`,
        `batch ${e.args.batchId}`,
        `root ${e.args.root}`,
        `records ${e.args.recordCount}`,
        `previous ${e.args.previousRoot}`,
        `tx ${e.transactionHash}`,
      ].join(' | '),
    );
  }
  const anchorers = [...new Set(events.map((e) => e.args.anchorer as string))];
  for (const a of anchorers) {
    const [latest, size] = await Promise.all([contract.latestRoot(a), contract.logSize(a)]);
    console.log(`log of ${a}: ${size} batches, latest root ${latest}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
