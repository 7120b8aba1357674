/**
 * The monitor under plain Node, no Hardhat (docs/verification.md §6):
 *   npm run build -w blockchain && node blockchain/dist/src/monitor-cli.js
 * Environment: BLOCKCHAIN_RPC_URL (default http://127.0.0.1:8545), GATEWAY_URL (default
 * http://127.0.0.1:3000), CONTRACT_ADDRESS or DEPLOYMENT_FILE (default
 * blockchain/deployments/localhost.json, if present), KNOWN_ANCHORERS (comma list), PROMISES_FILE
 * (kept promises: a file or a directory of saved JSON), MONITOR_STATE_FILE (what earlier runs saw
 * published), FROM_BLOCK, SERVICES (default order,payment).
 * Exit code: 0 no findings, 1 findings (an error), 2 the monitor could not run, 3 warnings only.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { JsonRpcProvider } from 'ethers';
import { readDeployment, runMonitor, type MonitorOptions } from './monitor';
import { fileStateStore, readKeptPromises } from './monitor-state';

/** The workspace root, from src/ (tsx) or from the compiled dist/src/. */
const ROOT =
  path.basename(path.dirname(__dirname)) === 'dist'
    ? path.join(__dirname, '..', '..')
    : path.join(__dirname, '..');

const list = (value: string | undefined): string[] | undefined =>
  value
    ? value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

/** The options both entry points read from the environment (the provider and file aside). */
export function monitorOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  deploymentFile: string,
): Omit<MonitorOptions, 'provider'> {
  return {
    gatewayUrl: env.GATEWAY_URL ?? 'http://127.0.0.1:3000',
    services: list(env.SERVICES),
    contractAddress: env.CONTRACT_ADDRESS || undefined,
    deployment: existsSync(deploymentFile) ? readDeployment(deploymentFile) : undefined,
    knownAnchorers: list(env.KNOWN_ANCHORERS),
    promises: env.PROMISES_FILE ? readKeptPromises(env.PROMISES_FILE) : undefined,
    state: env.MONITOR_STATE_FILE ? fileStateStore(env.MONITOR_STATE_FILE) : undefined,
    fromBlock: env.FROM_BLOCK ? Number(env.FROM_BLOCK) : undefined,
  };
}

/**
 * Asks the node its chain id once, so the provider can be static: ethers would otherwise retry
 * its network detection forever while the node is down, instead of failing.
 */
async function chainIdAt(url: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    signal: AbortSignal.timeout(10_000),
  }).catch((err: unknown) => {
    throw new Error(
      `no JSON-RPC node at ${url} (${(err as Error).message}); set BLOCKCHAIN_RPC_URL`,
    );
  });
  const body = (await res.json()) as { result?: string };
  if (!body.result) throw new Error(`${url}: eth_chainId answered ${JSON.stringify(body)}`);
  return Number(BigInt(body.result));
}

async function main(): Promise<number> {
  const url = process.env.BLOCKCHAIN_RPC_URL ?? 'http://127.0.0.1:8545';
  const provider = new JsonRpcProvider(url, await chainIdAt(url), {
    staticNetwork: true,
    batchMaxCount: 1,
  });
  try {
    const file = process.env.DEPLOYMENT_FILE ?? path.join(ROOT, 'deployments', 'localhost.json');
    return await runMonitor({ provider, ...monitorOptionsFromEnv(process.env, file) });
  } finally {
    provider.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`monitor failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 2;
    },
  );
}
