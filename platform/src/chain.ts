import fs from 'node:fs';
import path from 'node:path';
import { Wallet } from 'ethers';
import { AUDIT_ANCHOR_ABI } from '@ecom/common/anchoring';
import { CHAIN_DIR, repoRoot } from './data-dir';

export { CHAIN_DIR };

interface EmbeddedChain {
  url: string;
  chainId: number;
  contractAddress: string;
  deployerKey: string;
  anchorerKeys: string[];
  stop(): Promise<void>;
}

/**
 * Writes blockchain/deployments/localhost.json for the embedded chain, the file the Hardhat
 * query scripts (`--network localhost`) read to find the contract. Gitignored.
 */
function writeLocalhostDeployment(chain: EmbeddedChain): void {
  const file = path.join(repoRoot, 'blockchain', 'deployments', 'localhost.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const deployment = {
    network: 'localhost',
    chainId: chain.chainId,
    address: chain.contractAddress,
    deployer: new Wallet(chain.deployerKey).address,
    anchorers: chain.anchorerKeys.map((key) => new Wallet(key).address),
    txHash: '',
    blockNumber: 0,
    deployedAt: new Date().toISOString(),
    abi: [...AUDIT_ANCHOR_ABI],
  };
  fs.writeFileSync(file, `${JSON.stringify(deployment, null, 2)}\n`);
}

export interface ChainEndpoint {
  url: string;
  kind: 'embedded' | 'external';
  /** Set when this launcher deployed the contract (embedded chain). */
  contractAddress?: string;
  /** One key per anchoring service: one writer per key keeps nonces in order. */
  anchorerKeys: string[];
  stop(): Promise<void>;
}

/**
 * BLOCKCHAIN_RPC_URL (with ANCHOR_CONTRACT_ADDRESS and anchorer keys from the environment)
 * or a Hardhat network served on 127.0.0.1:8545 with AuditAnchor deployed, so the
 * `npx hardhat run ... --network localhost` scripts reach it. The embedded chain is kept in
 * `dataDir`/chain: it survives restarts, and its admin and anchorer keys are this data dir's own.
 */
export async function startChain(
  env: NodeJS.ProcessEnv,
  port: number,
  dataDir: string,
): Promise<ChainEndpoint> {
  if (env.BLOCKCHAIN_RPC_URL) {
    return {
      url: env.BLOCKCHAIN_RPC_URL,
      kind: 'external',
      contractAddress: env.ANCHOR_CONTRACT_ADDRESS,
      anchorerKeys: [env.PAYMENT_ANCHOR_PRIVATE_KEY, env.ORDER_ANCHOR_PRIVATE_KEY].filter(
        (k): k is string => Boolean(k),
      ),
      stop: async () => undefined,
    };
  }
  // Loaded lazily: Hardhat is heavy and unused when an external chain is configured. The
  // module is TypeScript run from source (tsx), outside this project's compilation.
  const { startEmbeddedChain } = require('@ecom/blockchain/src/embedded-chain') as {
    startEmbeddedChain: (options: {
      port?: number;
      anchorers?: number;
      dataDir?: string;
    }) => Promise<EmbeddedChain>;
  };
  const chain = await startEmbeddedChain({
    port,
    anchorers: 2,
    dataDir: path.join(dataDir, CHAIN_DIR),
  });
  // Only the documented port is the Hardhat `localhost` network the scripts talk to.
  if (port === 8545) writeLocalhostDeployment(chain);
  return {
    url: chain.url,
    kind: 'embedded',
    contractAddress: chain.contractAddress,
    anchorerKeys: chain.anchorerKeys,
    stop: () => chain.stop(),
  };
}
