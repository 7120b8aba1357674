import fs from 'node:fs';
import path from 'node:path';
import { keccak256, Wallet } from 'ethers';
import type { EIP1193Provider, RequestArguments } from 'hardhat/types';
import { syncDirectory, writeAll, writeFileDurably } from '@ecom/common/util';

/**
 * What an embedded chain keeps in its data directory so that a restart serves the same chain:
 *
 * - genesis.json: Hardhat's `initialDate` and hardfork, fixed at the first start (the genesis
 *   block, and so every block hash after it, depends on them);
 * - journal.jsonl: one line per mined block: its number, timestamp and hash and the raw signed
 *   transaction it holds, appended and fsynced before the sender hears back;
 * - keys.json (0600): the contract admin's and the anchorers' private keys, random per data dir.
 *
 * A restart replays the journal into a fresh network with the same genesis, so transaction
 * hashes, block numbers and block hashes come out as they were.
 */

export interface ChainGenesis {
  /** ISO date: the genesis block's timestamp (Hardhat's `initialDate`). */
  initialDate: string;
  hardfork: string;
  chainId: number;
}

export interface JournalEntry {
  /** Block number. */
  n: number;
  /** Block timestamp, seconds. */
  t: number;
  /** Block hash, to check that the replay produced the same block. */
  h: string;
  /** The raw signed transaction the block holds (automine: one per block). */
  tx: string;
}

export interface ChainKeys {
  admin: string;
  anchorers: string[];
}

const GENESIS = 'genesis.json';
const JOURNAL = 'journal.jsonl';
const KEYS = 'keys.json';

export function ensureChainDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/**
 * The admin's and `count` anchorers' keys of this data directory: generated once (a larger
 * `count` later adds keys, never replaces one) and kept readable by the owner only.
 */
export function loadOrCreateChainKeys(dir: string, count: number): ChainKeys {
  const file = path.join(dir, KEYS);
  let keys: ChainKeys | null = null;
  if (fs.existsSync(file)) {
    const isKey = (k: unknown) => typeof k === 'string' && /^0x[0-9a-fA-F]{64}$/.test(k);
    try {
      keys = JSON.parse(fs.readFileSync(file, 'utf8')) as ChainKeys;
    } catch {
      keys = null;
    }
    if (
      !keys ||
      !isKey(keys.admin) ||
      !Array.isArray(keys.anchorers) ||
      !keys.anchorers.every(isKey)
    ) {
      // Never replaced silently: the chain's contract and logs belong to these keys.
      throw new Error(`${file} is not a chain key file`);
    }
  }
  if (keys && keys.anchorers.length >= count) return keys;
  const next: ChainKeys = {
    admin: keys?.admin ?? Wallet.createRandom().privateKey,
    anchorers: [...(keys?.anchorers ?? [])],
  };
  while (next.anchorers.length < count) next.anchorers.push(Wallet.createRandom().privateKey);
  writeFileDurably(file, `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/** The genesis of the chain kept in `dir`, or null when there is none yet. */
export function readGenesis(dir: string): ChainGenesis | null {
  const file = path.join(dir, GENESIS);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ChainGenesis;
}

export function writeGenesis(dir: string, genesis: ChainGenesis): void {
  writeFileDurably(path.join(dir, GENESIS), `${JSON.stringify(genesis, null, 2)}\n`);
}

export function journalPath(dir: string): string {
  return path.join(dir, JOURNAL);
}

/**
 * The journal's entries. A last line without its newline is a write cut short by a crash:
 * its transaction was never answered, so it is dropped (and cut from the file, so the next
 * line starts clean). Any other unreadable line is corruption, and refused.
 */
export function readJournal(dir: string): JournalEntry[] {
  const file = journalPath(dir);
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const end = text.lastIndexOf('\n') + 1;
  if (end < text.length) fs.truncateSync(file, Buffer.byteLength(text.slice(0, end)));
  const entries: JournalEntry[] = [];
  const lines = text.slice(0, end).split('\n').slice(0, -1);
  for (const [i, line] of lines.entries()) {
    let entry: JournalEntry;
    try {
      entry = JSON.parse(line) as JournalEntry;
    } catch {
      throw new Error(`${file} line ${i + 1} is not a journal entry: the chain cannot be replayed`);
    }
    if (
      !Number.isSafeInteger(entry.n) ||
      !Number.isSafeInteger(entry.t) ||
      typeof entry.h !== 'string' ||
      typeof entry.tx !== 'string' ||
      entry.n !== i + 1
    ) {
      throw new Error(`${file} line ${i + 1} is not block ${i + 1}: the chain cannot be replayed`);
    }
    entries.push(entry);
  }
  return entries;
}

interface RpcBlock {
  number: string;
  hash: string;
  timestamp: string;
  transactions: string[];
}

async function blockAt(provider: EIP1193Provider, tag: string): Promise<RpcBlock> {
  return (await provider.request({
    method: 'eth_getBlockByNumber',
    params: [tag, false],
  })) as RpcBlock;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/**
 * Mines the journal's blocks again, in order, each at its recorded timestamp. Throws when a
 * block comes out with another number or transaction (the journal does not describe this
 * chain); a different block hash alone (another Hardhat version) is reported to `warn`.
 */
export async function replayJournal(
  provider: EIP1193Provider,
  entries: JournalEntry[],
  warn: (message: string) => void,
): Promise<void> {
  let hashMismatches = 0;
  for (const entry of entries) {
    await provider.request({ method: 'evm_setNextBlockTimestamp', params: [hex(entry.t)] });
    let failure: unknown;
    try {
      await provider.request({ method: 'eth_sendRawTransaction', params: [entry.tx] });
    } catch (err) {
      // A transaction that reverted is mined all the same (and was journaled so).
      failure = err;
    }
    const block = await blockAt(provider, 'latest');
    if (Number(block.number) !== entry.n || block.transactions[0] !== keccak256(entry.tx)) {
      throw new Error(
        `replaying the chain journal diverged at block ${entry.n}` +
          (failure ? `: ${(failure as Error).message}` : ''),
      );
    }
    if (block.hash !== entry.h) hashMismatches += 1;
  }
  if (hashMismatches > 0) {
    warn(
      `chain journal replayed with ${hashMismatches} block hash(es) differing from the recorded ones ` +
        '(transactions and block numbers are unchanged)',
    );
  }
  // The network's clock restarted at the genesis date and followed the replayed timestamps:
  // bring the next block's time back to now.
  const pending = Number((await blockAt(provider, 'pending')).timestamp);
  const lag = Math.floor(Date.now() / 1000) - pending;
  if (lag > 0) await provider.request({ method: 'evm_increaseTime', params: [lag] });
}

/**
 * Appends one line and forces it to the disk before returning: a block's transaction is
 * answered only once it would survive a crash.
 */
class JournalWriter {
  private fd: number;

  constructor(file: string) {
    this.fd = fs.openSync(file, 'a', 0o600);
    syncDirectory(path.dirname(file));
  }

  append(entry: JournalEntry): void {
    // Whole or failing: a short write taken for success would answer a block the journal lacks.
    writeAll(this.fd, `${JSON.stringify(entry)}\n`);
    fs.fsyncSync(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

export interface JournaledProvider {
  provider: EIP1193Provider;
  /** Waits for the transaction being journaled, then closes the journal. */
  close(): Promise<void>;
}

/**
 * `node` with every block its raw transactions mine written to the journal in `dir` before the
 * answer goes back. Transactions are sent one at a time, so the journal's order is the chain's.
 * Once a block cannot be journaled, no further transaction is accepted: the chain in memory
 * is ahead of the one a restart would replay.
 */
export function journaledProvider(
  node: EIP1193Provider,
  dir: string,
  lastBlock: number,
): JournaledProvider {
  const writer = new JournalWriter(journalPath(dir));
  let journaled = lastBlock;
  let broken: Error | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const raws = new Map<string, string>();

  const record = async () => {
    const head = Number(await node.request({ method: 'eth_blockNumber' }));
    for (let n = journaled + 1; n <= head; n++) {
      const block = await blockAt(node, hex(n));
      const tx = block.transactions.length === 1 ? raws.get(block.transactions[0]!) : undefined;
      if (!tx) throw new Error(`block ${n} holds transactions the journal was not given`);
      writer.append({ n, t: Number(block.timestamp), h: block.hash, tx });
      raws.delete(block.transactions[0]!);
      journaled = n;
    }
  };

  const sendRaw = async (args: RequestArguments): Promise<unknown> => {
    if (broken)
      throw new Error(`the chain journal failed, no transaction accepted: ${broken.message}`);
    const raw = (args.params as string[] | undefined)?.[0];
    if (typeof raw !== 'string') return node.request(args);
    raws.set(keccak256(raw), raw);
    let answer: unknown;
    let failure: unknown;
    try {
      answer = await node.request(args);
    } catch (err) {
      failure = err;
    }
    try {
      await record();
    } catch (err) {
      broken = err as Error;
      throw new Error(`the chain journal failed: ${(err as Error).message}`);
    } finally {
      // A transaction refused (bad nonce, no funds) mined nothing and is forgotten.
      if (failure) raws.delete(keccak256(raw));
    }
    if (failure) throw failure;
    return answer;
  };

  const provider = new Proxy(node, {
    get(target, property, receiver) {
      if (property !== 'request') return Reflect.get(target, property, receiver);
      return (args: RequestArguments) => {
        if (args.method !== 'eth_sendRawTransaction') return target.request(args);
        const result = queue.then(() => sendRaw(args));
        queue = result.catch(() => undefined);
        return result;
      };
    },
  });
  return {
    provider,
    close: async () => {
      await queue;
      writer.close();
    },
  };
}
