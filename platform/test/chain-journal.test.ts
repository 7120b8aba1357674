import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { JsonRpcProvider, parseEther, Wallet } from 'ethers';
import { auditAnchorAt } from '@ecom/common/anchoring';
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

it('makes a set-up call again when its answer is lost with its connection, and sets up once', async () => {
  // The first two transactions reach the chain and are mined, but their answers are lost
  // ("socket hang up"), as when the server drops a connection the call was sent on.
  const realRequest = http.request;
  let cut = 0;
  const spy = jest.spyOn(http, 'request').mockImplementation(((
    ...args: Parameters<typeof http.request>
  ) => {
    const req = realRequest(...args);
    const write = req.write.bind(req) as (chunk: unknown) => boolean;
    req.write = ((chunk: unknown) => {
      if (cut < 2 && String(chunk).includes('eth_sendRawTransaction')) {
        cut++;
        req.prependOnceListener('response', (res) => {
          res.destroy();
          req.emit('error', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
        });
      }
      return write(chunk);
    }) as typeof req.write;
    return req;
  }) as typeof http.request);
  let chain: EmbeddedChain;
  try {
    chain = await start(newDir());
  } finally {
    spy.mockRestore();
  }
  expect(cut).toBe(2);
  const provider = rpcOf(chain);
  expect(await provider.getCode(chain.contractAddress)).not.toBe('0x');
  // Each key funded once: no second payment for an answer that was lost.
  const anchorers = chain.anchorerKeys.map((k) => new Wallet(k).address);
  for (const address of anchorers) {
    expect(await provider.getBalance(address)).toBe(parseEther('1000'));
  }
  const contract = auditAnchorAt(chain.contractAddress, provider);
  const role = (await contract.ANCHORER_ROLE()) as string;
  for (const address of anchorers) expect(await contract.hasRole(role, address)).toBe(true);
});
