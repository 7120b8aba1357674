/**
 * Decodes an anchor transaction and shows its batch; with the services up, also what the
 * service says that transaction anchored (GET /api/blockchain/verify/:txHash) and checks each
 * record's receipt on chain.
 * TX_HASH=0x... npx hardhat run scripts/verify-tx.ts --network localhost
 */
import { Interface } from 'ethers';
import { ethers } from 'hardhat';
import { AUDIT_ANCHOR_ABI, type AnchorReceipt } from '@ecom/common/anchoring';
import { checkReceipt, gatewayUrl, requireEnv } from './lib';

async function main(): Promise<void> {
  const hash = requireEnv('TX_HASH', '0x<transaction hash>');
  const tx = await ethers.provider.getTransaction(hash);
  if (!tx) throw new Error(`transaction ${hash} not found on this chain`);
  const iface = new Interface(AUDIT_ANCHOR_ABI);
  const call = iface.parseTransaction({ data: tx.data });
  if (call?.name !== 'anchor') throw new Error(`${hash} is not an AuditAnchor.anchor call`);
  const receipt = await ethers.provider.getTransactionReceipt(hash);
  const [batchId, root, recordCount, previousRoot] = call.args as unknown as [
    string,
    string,
    bigint,
    string,
  ];
  const contract = new ethers.Contract(tx.to!, AUDIT_ANCHOR_ABI, ethers.provider);
  const [anchored, , timestamp, blockNumber] = (await contract.anchorOf(root)) as [
    boolean,
    bigint,
    bigint,
    bigint,
  ];
  console.log(
    `tx ${hash}: ${receipt?.status === 1 ? 'succeeded' : 'reverted'} in block ${receipt?.blockNumber}, gas ${receipt?.gasUsed}`,
  );
  console.log(
    `contract ${tx.to} | batch ${batchId} | root ${root} | records ${recordCount} | previous ${previousRoot}`,
  );
  console.log(
    anchored
      ? `root anchored in block ${blockNumber} at ${new Date(Number(timestamp) * 1000).toISOString()}`
      : 'root NOT anchored on this contract',
  );

  const res = await fetch(`${gatewayUrl()}/api/blockchain/verify/${hash}`).catch(() => null);
  if (!res?.ok) {
    console.log(
      `(service view unavailable at ${gatewayUrl()}: ${res ? res.status : 'not reachable'})`,
    );
    return;
  }
  const body = (await res.json()) as { records?: { status: string; receipt: AnchorReceipt }[] };
  for (const r of body.records ?? []) {
    const check = await checkReceipt(r.receipt);
    console.log(
      `- ${r.receipt.recordType}/${r.receipt.recordId}/${r.receipt.sourceId} | service says ${r.status} | ${check.detail}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
