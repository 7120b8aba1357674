/**
 * Lists the most recent anchors (AnchorRecorded events), newest first.
 * COUNT=20 npx hardhat run scripts/list-anchors.ts --network localhost
 */
import type { EventLog } from 'ethers';
import { anchorContract } from './lib';

async function main(): Promise<void> {
  const count = Number(process.env.COUNT ?? 20);
  const contract = await anchorContract();
  const events = (await contract.queryFilter(contract.filters.AnchorRecorded(), 0)) as EventLog[];
  const recent = events.slice(-count).reverse();
  console.log(
    `${events.length} anchor(s) at ${await contract.getAddress()}; latest ${recent.length}:`,
  );
  for (const e of recent) {
    const [, recordCount, timestamp] = (await contract.anchorOf(e.args.root)) as [
      boolean,
      bigint,
      bigint,
      bigint,
    ];
    console.log(
      [
        `block ${e.blockNumber}`,
        new Date(Number(timestamp) * 1000).toISOString(),
        `batch ${e.args.batchId}`,
        `root ${e.args.root}`,
        `records ${recordCount}`,
        `previous ${e.args.previousRoot}`,
        `tx ${e.transactionHash}`,
      ].join(' | '),
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
