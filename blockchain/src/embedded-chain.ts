import { Agent, type Server } from 'node:http';
import path from 'node:path';
import {
  FetchRequest,
  getCreateAddress,
  HDNodeWallet,
  JsonRpcProvider,
  parseEther,
  Wallet,
} from 'ethers';
import { resolveConfig } from 'hardhat/internal/core/config/config-resolution';
import { createProvider } from 'hardhat/internal/core/providers/construction';
import { JsonRpcServer } from 'hardhat/internal/hardhat-network/jsonrpc/server';
import type { EIP1193Provider } from 'hardhat/types';
import { auditAnchorAt, deployAuditAnchor } from '@ecom/common/anchoring';
import { isDependencyUnavailable } from '@ecom/common/errors';
import {
  ensureChainDir,
  journaledProvider,
  loadOrCreateChainKeys,
  readGenesis,
  readJournal,
  replayJournal,
  writeGenesis,
  type ChainGenesis,
  type JournaledProvider,
} from './chain-journal';
import { publicRpcProvider } from './public-rpc';

/** Hardhat's well-known development mnemonic: its accounts are funded on every Hardhat chain. */
export const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk';

/**
 * Closes the JSON-RPC server now. Its close() waits for open keep-alive connections, and a
 * client polling every few ms keeps one open forever, so drop them first.
 */
async function closeServer(server: JsonRpcServer): Promise<void> {
  (server as unknown as { _httpServer?: Server })._httpServer?.closeAllConnections();
  await server.close();
}

export function hardhatAccountKey(index: number): string {
  return HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

export interface EmbeddedChainOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** How many anchorer keys to authorise (one per service: one writer per key). */
  anchorers?: number;
  /** false: start an empty chain (the anchor client can deploy itself). Default true. */
  deploy?: boolean;
  /**
   * Serve the development node's administration (evm_*, hardhat_*) and unlocked accounts too:
   * for tests that snapshot or rewind the chain. Default false: reads and raw transactions only.
   */
  adminRpc?: boolean;
  /**
   * Keep the chain in this directory: its journal is replayed at start, so the chain outlives
   * restarts, and its admin and anchorer keys are random keys kept there (0600), funded from a
   * Hardhat account, which holds no role. Without it: a fresh chain each start, and Hardhat's
   * public development accounts as admin and anchorers (tests).
   */
  dataDir?: string;
  /** Where a replay that did not reproduce the block hashes is reported; default stderr. */
  warn?: (message: string) => void;
}

export interface EmbeddedChain {
  url: string;
  chainId: number;
  /** Empty string when started with deploy: false. */
  contractAddress: string;
  /** Deployer and admin of the contract: Hardhat's account #0, or the data dir's own key. */
  deployerKey: string;
  /** The first of anchorerKeys. */
  anchorerKey: string;
  /**
   * Keys holding ANCHORER_ROLE, one per service: Hardhat's accounts #1..#n, or the data dir's
   * own keys.
   */
  anchorerKeys: string[];
  /** Blocks replayed from the data dir's journal at start (0: a new chain). */
  replayedBlocks: number;
  stop(): Promise<void>;
  /** Closes the JSON-RPC endpoint but keeps the chain's state (simulates an outage). */
  pause(): Promise<void>;
  /** Serves the same chain again on the same port. */
  resume(): Promise<void>;
}

/** What each key of a data dir's chain gets from Hardhat account #0 at first start. */
const ADMIN_FUNDS = parseEther('100');
const ANCHORER_FUNDS = parseEther('1000');

/**
 * Starts an in-process Hardhat network served over JSON-RPC (the same server `hardhat node`
 * uses; chainId 31337, automine) with AuditAnchor deployed. Without `dataDir` nothing persists
 * (a restart is a fresh chain, which the anchor client detects and re-anchors from its
 * database); with it, the chain is journaled there and replayed at the next start.
 */
export async function startEmbeddedChain(
  options: EmbeddedChainOptions = {},
): Promise<EmbeddedChain> {
  const host = options.host ?? '127.0.0.1';
  const dir = options.dataDir;
  if (dir && options.adminRpc) {
    // evm_*/hardhat_* change the chain outside the journal: a replay could not reproduce it.
    throw new Error('adminRpc cannot be combined with dataDir');
  }
  const anchorerCount = Math.max(1, options.anchorers ?? 4);
  // The project root, from src/ (ts-node, tsx, jest) or from the compiled dist/src/.
  const root =
    path.basename(path.dirname(__dirname)) === 'dist'
      ? path.join(__dirname, '..', '..')
      : path.join(__dirname, '..');
  const configFile = path.join(root, 'hardhat.config.ts');
  const network = { chainId: 31337, loggingEnabled: false };

  let journal: JournaledProvider | undefined;
  let node: EIP1193Provider;
  let replayedBlocks = 0;
  let keys: { admin: string; anchorers: string[] };
  if (dir) {
    ensureChainDir(dir);
    keys = loadOrCreateChainKeys(dir, anchorerCount);
    keys = { admin: keys.admin, anchorers: keys.anchorers.slice(0, anchorerCount) };
    const entries = readJournal(dir);
    let genesis = readGenesis(dir);
    if (!genesis || entries.length === 0) {
      // A new chain (or one whose journal is gone: then a new genesis says so to every client).
      const defaults = resolveConfig(configFile, { networks: { hardhat: network } }).networks
        .hardhat as { hardfork: string };
      genesis = {
        initialDate: new Date().toISOString(),
        hardfork: defaults.hardfork,
        chainId: 31337,
      } satisfies ChainGenesis;
      writeGenesis(dir, genesis);
    }
    const config = resolveConfig(configFile, {
      networks: {
        hardhat: { ...network, initialDate: genesis.initialDate, hardfork: genesis.hardfork },
      },
    });
    const fresh = await createProvider(config, 'hardhat');
    await replayJournal(
      fresh,
      entries,
      options.warn ?? ((m) => process.stderr.write(`embedded chain: ${m}\n`)),
    );
    replayedBlocks = entries.length;
    journal = journaledProvider(fresh, dir, entries.length);
    node = journal.provider;
  } else {
    const config = resolveConfig(configFile, { networks: { hardhat: network } });
    node = await createProvider(config, 'hardhat');
    keys = {
      admin: hardhatAccountKey(0),
      anchorers: Array.from({ length: anchorerCount }, (_, i) => hardhatAccountKey(i + 1)),
    };
  }
  const provider = options.adminRpc ? node : publicRpcProvider(node);
  let server = new JsonRpcServer({ hostname: host, port: options.port ?? 8545, provider });
  let port: number;
  try {
    ({ port } = await server.listen());
  } catch (err) {
    await journal?.close();
    throw err;
  }
  let paused = false;
  const url = `http://${host}:${port}`;

  const deployerKey = keys.admin;
  const anchorerKeys = keys.anchorers;
  let contractAddress = '';
  try {
    if (options.deploy !== false) {
      // A chain kept on disk is set up by steps that each check the chain first, so a call cut
      // off on its way (the answer lost with its connection) is safe to make again.
      contractAddress = dir
        ? await retriedOnConnectionLoss(() => setUpKeptChain(url, dir, keys))
        : await withSetupRpc(url, (rpc) => setUpChain(rpc, keys));
    }
    return {
      url,
      chainId: 31337,
      contractAddress,
      deployerKey,
      anchorerKey: anchorerKeys[0]!,
      anchorerKeys,
      replayedBlocks,
      async stop() {
        if (!paused) await closeServer(server);
        paused = true;
        await journal?.close();
        journal = undefined;
      },
      async pause() {
        if (paused) return;
        paused = true;
        await closeServer(server);
      },
      async resume() {
        if (!paused) return;
        server = new JsonRpcServer({ hostname: host, port, provider });
        await server.listen();
        paused = false;
      },
    };
  } catch (err) {
    await closeServer(server);
    await journal?.close();
    throw err;
  }
}

type ChainKeys = { admin: string; anchorers: string[] };

/**
 * A provider for the chain's own set-up, ended after it. Each call opens a connection of its
 * own: the server drops a kept-alive connection after 5 s idle, and a start whose event loop
 * was busy about that long (the stores it starts beside the chain) could send its next call on
 * the connection being dropped ("socket hang up").
 */
async function withSetupRpc<T>(url: string, use: (rpc: JsonRpcProvider) => Promise<T>): Promise<T> {
  const request = new FetchRequest(url);
  request.getUrlFunc = FetchRequest.createGetUrlFunc({ agent: new Agent({ keepAlive: false }) });
  const rpc = new JsonRpcProvider(request, 31337, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: 1,
  });
  rpc.pollingInterval = 20;
  try {
    return await use(rpc);
  } finally {
    rpc.destroy();
  }
}

/** A new chain: the contract deployed, every anchorer granted its role. */
async function setUpChain(rpc: JsonRpcProvider, keys: ChainKeys): Promise<string> {
  const deployer = new Wallet(keys.admin, rpc);
  const contractAddress = await deployAuditAnchor(deployer, new Wallet(keys.anchorers[0]!).address);
  const contract = auditAnchorAt(contractAddress, deployer);
  const role = (await contract.ANCHORER_ROLE()) as string;
  for (const key of keys.anchorers.slice(1)) {
    await (await contract.grantRole(role, new Wallet(key).address)).wait();
  }
  return contractAddress;
}

/**
 * A chain kept in `dir`: each step checks the chain first, so a start cut short resumes where
 * it stopped, and a replayed chain needs none of them.
 */
function setUpKeptChain(url: string, dir: string, keys: ChainKeys): Promise<string> {
  return withSetupRpc(url, async (rpc) => {
    const deployer = new Wallet(keys.admin, rpc);
    const funder = new Wallet(hardhatAccountKey(0), rpc);
    const funds: [string, bigint][] = [
      [deployer.address, ADMIN_FUNDS],
      ...keys.anchorers.map((k): [string, bigint] => [new Wallet(k).address, ANCHORER_FUNDS]),
    ];
    for (const [address, amount] of funds) {
      if ((await rpc.getBalance(address)) === 0n) {
        await (await funder.sendTransaction({ to: address, value: amount })).wait();
      }
    }
    // The admin's first transaction is the deployment: its address follows from the key.
    const contractAddress = getCreateAddress({ from: deployer.address, nonce: 0 });
    if ((await rpc.getCode(contractAddress)) === '0x') {
      if ((await rpc.getTransactionCount(deployer.address)) !== 0) {
        throw new Error(`the chain in ${dir} has no AuditAnchor where its admin deployed it`);
      }
      await deployAuditAnchor(deployer, new Wallet(keys.anchorers[0]!).address);
    }
    const contract = auditAnchorAt(contractAddress, deployer);
    const role = (await contract.ANCHORER_ROLE()) as string;
    for (const key of keys.anchorers.slice(1)) {
      const address = new Wallet(key).address;
      if ((await contract.hasRole(role, address)) as boolean) continue;
      await (await contract.grantRole(role, address)).wait();
    }
    return contractAddress;
  });
}

/**
 * `step` again (up to 3 tries) when its connection was lost (common's rule for a dependency
 * that did not answer); other failures at once.
 */
async function retriedOnConnectionLoss<T>(step: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (attempt >= 3 || !isDependencyUnavailable(err)) throw err;
    }
  }
}
