import fs from 'node:fs';
import path from 'node:path';
import { JsonRpcProvider, Wallet } from 'ethers';
import { startEmbeddedChain, type EmbeddedChain } from '@ecom/blockchain/src/embedded-chain';
import { tempDataDir } from './support';

// The embedded chain with a data dir journals every block its transactions mine and replays
// the journal at the next start: the same transactions in the same blocks, with the same hashes.

jest.setTimeout(120_000);

const dirs: string[] = [];
const running = new Set<EmbeddedChain>();
const providers: JsonRpcProvider[] = [];

afterAll(async () => {
  for (const p of providers) p.destroy();
  for (const c of running) await c.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const dir = tempDataDir('chain-journal');
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string): Promise<EmbeddedChain> {
  const chain = await startEmbeddedChain({ port: 0, anchorers: 2, dataDir });
  running.add(chain);
  return chain;
}

async function stop(chain: EmbeddedChain): Promise<void> {
  await chain.stop();
  running.delete(chain);
}

function rpcOf(chain: EmbeddedChain): JsonRpcProvider {
  const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 20;
  providers.push(provider);
  return provider;
}

async function blocks(provider: JsonRpcProvider) {
  const head = await provider.getBlockNumber();
  const all = [];
  for (let n = 0; n <= head; n++) {
    const b = (await provider.getBlock(n))!;
    all.push({ n, hash: b.hash, timestamp: b.timestamp, txs: b.transactions });
  }
  return all;
}

it('replays transactions sent at once by two keys, and a reverted one, into the same blocks', async () => {
  const dir = newDir();
  const chain = await start(dir);
  const provider = rpcOf(chain);
  const [a, b] = chain.anchorerKeys.map((k) => new Wallet(k, provider));
  // Two writers at once, as two services are: the chain interleaves their blocks, and the
  // journal must follow the chain's order.
  await Promise.all(
    [a!, b!].map(async (w) => {
      for (let i = 0; i < 4; i++) {
        await (await w.sendTransaction({ to: w.address, value: 1n })).wait();
      }
    }),
  );
  // A transaction that reverts is mined all the same: calling a contract function that does
  // not exist (the AuditAnchor has no fallback).
  await expect(
    a!.sendTransaction({ to: chain.contractAddress, data: '0xdeadbeef', gasLimit: 100_000 }),
  ).rejects.toThrow();
  const before = await blocks(provider);
  expect(before.length).toBeGreaterThan(8);
  await stop(chain);

  const again = await start(dir);
  expect(again.replayedBlocks).toBe(before.length - 1);
  expect(await blocks(rpcOf(again))).toEqual(before);
  // And it goes on from there: a new transaction is the next block, with a timestamp of now.
  const w = new Wallet(again.anchorerKeys[0]!, rpcOf(again));
  const receipt = (await (await w.sendTransaction({ to: w.address, value: 1n })).wait())!;
  expect(receipt.blockNumber).toBe(before.length);
});

it('refuses to start on a journal corrupted before its last line, naming the file', async () => {
  const dir = newDir();
  await stop(await start(dir));
  const journal = path.join(dir, 'journal.jsonl');
  const lines = fs.readFileSync(journal, 'utf8').split('\n');
  lines[1] = lines[1]!.replace(/"tx":"0x../, '"tx":"0xzz');
  fs.writeFileSync(journal, lines.join('\n'));
  await expect(start(dir)).rejects.toThrow(/journal/);
  lines[1] = '{"n":2,';
  fs.writeFileSync(journal, lines.join('\n'));
  await expect(start(dir)).rejects.toThrow(`${journal} line 2`);
});

it('does not combine a kept chain with the development administration', async () => {
  await expect(startEmbeddedChain({ port: 0, dataDir: newDir(), adminRpc: true })).rejects.toThrow(
    /adminRpc/,
  );
});
