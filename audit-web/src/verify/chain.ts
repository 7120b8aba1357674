import { FetchRequest, Interface, JsonRpcProvider, Network, ZeroHash } from 'ethers';
import { ANCHORER_ROLE } from '@ecom/blockchain/src/verification';

/**
 * The contract's read functions and its anchor event, written out from docs/verification.md §2
 * (as the monitor does), not taken from the services' artifact: what the page asks the chain is
 * what the document promises a third party.
 */
export const AUDIT_ANCHOR_READS = new Interface([
  'function verify(bytes32 leaf, bytes32[] proof, bytes32 root) view returns (bool)',
  'function anchorOf(bytes32 root) view returns (bool anchored, uint32 recordCount, uint64 timestamp, uint64 blockNumber)',
  'function hasRole(bytes32 role, address account) view returns (bool)',
  'function latestRoot(address anchorer) view returns (bytes32)',
  'function logSize(address anchorer) view returns (uint64)',
  'event AnchorRecorded(bytes32 indexed batchId, bytes32 indexed root, address indexed anchorer, bytes32 previousRoot, uint32 recordCount, uint64 size)',
]);

export interface AnchorEvent {
  anchorer: string;
  txHash: string;
  blockNumber: number;
  previousRoot: string;
  recordCount: number;
  size: number;
}

/** One JSON-RPC endpoint the user chose, and the few questions the page asks it. */
export interface ChainReader {
  url: string;
  chainId: number;
  provider: JsonRpcProvider;
  /** The contract's `verify(leaf, proof, root)`: the root is anchored and the proof holds. */
  verify(contract: string, leaf: string, proof: string[], root: string): Promise<boolean>;
  /** The AnchorRecorded event of a root (who anchored it, in which transaction); null if none. */
  anchorEvent(contract: string, root: string): Promise<AnchorEvent | null>;
  /** Whether `account` holds ANCHORER_ROLE on the contract now. */
  isAnchorer(contract: string, account: string): Promise<boolean>;
  /** An anchorer's log on chain: its latest root and number of batches. */
  logOf(contract: string, anchorer: string): Promise<{ latestRoot: string; size: number }>;
  close(): void;
}

export class ChainUnreachableError extends Error {}

/** The address holds no contract on this chain: an answer, not an outage. */
export class NoContractError extends Error {}

/**
 * Connects to `url`: one raw eth_chainId first (so an endpoint that is down fails at once with
 * its reason instead of ethers retrying network detection forever), then a provider pinned to
 * that chain id, with no request batching or caching.
 */
export async function connectChain(url: string, timeoutMs = 8000): Promise<ChainReader> {
  let chainId: number;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as { result?: string; error?: { message?: string } };
    if (typeof body.result !== 'string') {
      throw new Error(body.error?.message ?? `HTTP ${res.status}`);
    }
    chainId = Number(BigInt(body.result));
  } catch (err) {
    throw new ChainUnreachableError(
      `the chain at ${url} did not answer: ${(err as Error).message}`,
    );
  }
  const request = new FetchRequest(url);
  request.timeout = timeoutMs;
  const provider = new JsonRpcProvider(request, chainId, {
    staticNetwork: Network.from(chainId),
    batchMaxCount: 1,
    cacheTimeout: -1,
  });
  const call = async (contract: string, fn: string, args: unknown[]) => {
    const data = AUDIT_ANCHOR_READS.encodeFunctionData(fn, args);
    const result = await provider.call({ to: contract, data });
    if (result === '0x')
      throw new NoContractError(`no contract at ${contract} on chain ${chainId}`);
    return AUDIT_ANCHOR_READS.decodeFunctionResult(fn, result);
  };
  const anchorTopic = AUDIT_ANCHOR_READS.getEvent('AnchorRecorded')!.topicHash;
  return {
    url,
    chainId,
    provider,
    async verify(contract, leaf, proof, root) {
      return Boolean((await call(contract, 'verify', [leaf, proof, root]))[0]);
    },
    async anchorEvent(contract, root) {
      const logs = await provider.getLogs({
        address: contract,
        fromBlock: 0,
        toBlock: 'latest',
        topics: [anchorTopic, null, root],
      });
      const log = logs[0];
      if (!log) return null;
      const parsed = AUDIT_ANCHOR_READS.parseLog(log)!;
      return {
        anchorer: (parsed.args.anchorer as string).toLowerCase(),
        txHash: log.transactionHash.toLowerCase(),
        blockNumber: log.blockNumber,
        previousRoot: (parsed.args.previousRoot as string).toLowerCase(),
        recordCount: Number(parsed.args.recordCount),
        size: Number(parsed.args.size),
      };
    },
    async isAnchorer(contract, account) {
      return Boolean((await call(contract, 'hasRole', [ANCHORER_ROLE, account]))[0]);
    },
    async logOf(contract, anchorer) {
      const [latestRoot] = await call(contract, 'latestRoot', [anchorer]);
      const [size] = await call(contract, 'logSize', [anchorer]);
      return { latestRoot: String(latestRoot ?? ZeroHash).toLowerCase(), size: Number(size) };
    },
    close: () => provider.destroy(),
  };
}
