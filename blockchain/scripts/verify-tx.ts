/**
 * Decodes an anchor transaction and shows its batch and the anchorer's log; with the services
 * up, also what the service says that transaction anchored (GET /api/blockchain/verify/:txHash,
 * sent with TOKEN as a bearer token) and an independent check of each entry.
 * TX_HASH=0x... [TOKEN=<jwt>] npx hardhat run scripts/verify-tx.ts --network localhost
 */
import { Interface, type InterfaceAbi } from 'ethers';
import { ethers } from 'hardhat';
import {
  anchorAbi,
  checkServiceEntries,
  contractAt,
  describe,
  entriesOf,
  gatewayGet,
  gatewayUrl,
  publishedSigner,
  recordOf,
  requireEnv,
} from './lib';

async function main(): Promise<void> {
  const hash = requireEnv('TX_HASH', '0x<transaction hash>');
  const tx = await ethers.provider.getTransaction(hash);
  if (!tx) throw new Error(`transaction ${hash} not found on this chain`);
  const iface = new Interface((await anchorAbi()) as InterfaceAbi);
  const call = iface.parseTransaction({ data: tx.data });
  if (call?.name !== 'anchor') throw new Error(`${hash} is not an AuditAnchor.anchor call`);
  const receipt = await ethers.provider.getTransactionReceipt(hash);
  const [batchId, root, recordCount, previousRoot] = call.args as unknown as [
    string,
    string,
    bigint,
    string,
  ];
  const contract = await contractAt(tx.to!);
  console.log(
    `tx ${hash}: ${receipt?.status === 1 ? 'succeeded' : 'reverted'} in block ${receipt?.blockNumber}, gas ${receipt?.gasUsed}`,
  );
  console.log(
    `call: contract ${tx.to} | batch ${batchId} | root ${root} | records ${recordCount} | previous ${previousRoot} | from ${tx.from}`,
  );
  const event = receipt?.logs
    .map((log) => {
      try {
        return iface.parseLog(log);
      } catch {
        return null;
      }
    })
    .find((e) => e?.name === 'AnchorRecorded');
  if (event) {
    const { anchorer, size } = event.args as unknown as { anchorer: string; size: bigint };
    const [latest, logSize] = await Promise.all([
      contract.latestRoot(anchorer) as Promise<string>,
      contract.logSize(anchorer) as Promise<bigint>,
    ]);
    console.log(
      `AnchorRecorded: anchorer ${anchorer}, batch #${size} of its log ` +
        `(log now ${logSize} batches, latest root ${latest === root ? 'this one' : latest})`,
    );
  }
  const [anchored, , timestamp, blockNumber] = (await contract.anchorOf(root)) as [
    boolean,
    bigint,
    bigint,
    bigint,
  ];
  console.log(
    anchored
      ? `root anchored in block ${blockNumber} at ${new Date(Number(timestamp) * 1000).toISOString()}`
      : 'root NOT anchored on this contract',
  );

  const answer = await gatewayGet(`/api/blockchain/verify/${hash}`).catch((err: unknown) => ({
    status: 0,
    body: (err as Error).message,
  }));
  if (answer.status !== 200) {
    console.log(
      `(service view unavailable at ${gatewayUrl()}: ${answer.status || answer.body}` +
        `${answer.status === 401 && !process.env.TOKEN ? '; set TOKEN=<jwt>' : ''})`,
    );
    return;
  }
  const service = (answer.body as { service?: string }).service;
  const entries = entriesOf(answer.body);
  console.log(
    `service ${service ?? '?'} says this transaction anchored ${entries.length} of your entries:`,
  );
  const signer = service ? await publishedSigner(service) : null;
  let failed = 0;
  for (const entry of entries) {
    const { recordType, recordId } = recordOf(entry);
    // One transaction holds part of a record's history, so no chain check here.
    const [checked] = await checkServiceEntries(
      recordType,
      recordId,
      [entry],
      signer ? [signer] : [],
      false,
    );
    if (checked.check.problems.length) failed++;
    console.log(`${describe(checked, false)} | ${recordType}/${recordId}`);
  }
  if (failed) {
    console.log(`${failed} entries FAILED the independent check`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
