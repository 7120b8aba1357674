import { FetchRequest, JsonRpcProvider } from 'ethers';

/**
 * A provider suited to a fast local chain (blockchain/README.md): a static network (no network
 * re-detection on every call, which hangs when the node is not up yet), a request timeout, no
 * request cache (the default 250 ms cache hands out stale nonces), no JSON-RPC batching (ethers
 * otherwise holds every request 10 ms to batch it, which made one anchor ~90 ms), and a short
 * polling interval.
 */
export function createChainProvider(
  url: string,
  chainId: number,
  pollingMs = 50,
  requestTimeoutMs = 10_000,
): JsonRpcProvider {
  // ethers waits 5 minutes for an answer by default: a request the node never answers would
  // stall the anchoring worker (and stop()) that long instead of failing and retrying.
  const request = new FetchRequest(url);
  request.timeout = requestTimeoutMs;
  const provider = new JsonRpcProvider(request, chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
    batchMaxCount: 1,
  });
  provider.pollingInterval = pollingMs;
  return provider;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Health check for /health/ready: `eth_chainId` answers within `timeoutMs` and names the expected
 * chain. Throws otherwise. Sent as a raw request so it never waits on ethers' own network detection.
 */
export async function checkChain(
  provider: JsonRpcProvider,
  expectedChainId: number,
  timeoutMs = 2000,
): Promise<number> {
  const hex = (await withTimeout(
    provider.send('eth_chainId', []),
    timeoutMs,
    'eth_chainId',
  )) as string;
  const chainId = Number(BigInt(hex));
  if (chainId !== expectedChainId) {
    throw new Error(`chain id is ${chainId}, expected ${expectedChainId}`);
  }
  return chainId;
}
