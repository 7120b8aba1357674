import type { Server } from 'node:http';
import path from 'node:path';
import { HDNodeWallet, JsonRpcProvider, Wallet } from 'ethers';
import { resolveConfig } from 'hardhat/internal/core/config/config-resolution';
import { createProvider } from 'hardhat/internal/core/providers/construction';
import { JsonRpcServer } from 'hardhat/internal/hardhat-network/jsonrpc/server';
import { auditAnchorAt, deployAuditAnchor } from '@ecom/common/anchoring';
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
}

export interface EmbeddedChain {
  url: string;
  chainId: number;
  /** Empty string when started with deploy: false. */
  contractAddress: string;
  /** Account #0: deployer and admin of the contract. */
  deployerKey: string;
  /** Account #1, holds ANCHORER_ROLE. */
  anchorerKey: string;
  /** Accounts #1..#n, all holding ANCHORER_ROLE; give each service its own. */
  anchorerKeys: string[];
  stop(): Promise<void>;
  /** Closes the JSON-RPC endpoint but keeps the chain's state (simulates an outage). */
  pause(): Promise<void>;
  /** Serves the same chain again on the same port. */
  resume(): Promise<void>;
}

/**
 * Starts an in-process Hardhat network served over JSON-RPC (the same server `hardhat node`
 * uses; chainId 31337, automine) and deploys AuditAnchor from account #0. Nothing persists:
 * a restart is a fresh chain, which the anchor client detects and re-anchors from its database.
 */
export async function startEmbeddedChain(
  options: EmbeddedChainOptions = {},
): Promise<EmbeddedChain> {
  const host = options.host ?? '127.0.0.1';
  // The project root, from src/ (ts-node, tsx, jest) or from the compiled dist/src/.
  const root =
    path.basename(path.dirname(__dirname)) === 'dist'
      ? path.join(__dirname, '..', '..')
      : path.join(__dirname, '..');
  const config = resolveConfig(path.join(root, 'hardhat.config.ts'), {
    networks: { hardhat: { chainId: 31337, loggingEnabled: false } },
  });
  const node = await createProvider(config, 'hardhat');
  const provider = options.adminRpc ? node : publicRpcProvider(node);
  let server = new JsonRpcServer({ hostname: host, port: options.port ?? 8545, provider });
  const { port } = await server.listen();
  let paused = false;
  const url = `http://${host}:${port}`;

  const rpc = new JsonRpcProvider(url, 31337, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: 1,
  });
  rpc.pollingInterval = 20;
  try {
    const deployerKey = hardhatAccountKey(0);
    const deployer = new Wallet(deployerKey, rpc);
    const anchorerKeys = Array.from({ length: Math.max(1, options.anchorers ?? 4) }, (_, i) =>
      hardhatAccountKey(i + 1),
    );
    let contractAddress = '';
    if (options.deploy !== false) {
      contractAddress = await deployAuditAnchor(deployer, new Wallet(anchorerKeys[0]).address);
      const contract = auditAnchorAt(contractAddress, deployer);
      const role = (await contract.ANCHORER_ROLE()) as string;
      for (const key of anchorerKeys.slice(1)) {
        await (await contract.grantRole(role, new Wallet(key).address)).wait();
      }
    }
    return {
      url,
      chainId: 31337,
      contractAddress,
      deployerKey,
      anchorerKey: anchorerKeys[0],
      anchorerKeys,
      async stop() {
        rpc.destroy();
        if (!paused) await closeServer(server);
        paused = true;
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
    rpc.destroy();
    await closeServer(server);
    throw err;
  }
}
