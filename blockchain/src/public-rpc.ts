import type { EIP1193Provider, RequestArguments } from 'hardhat/types';
import { MethodNotSupportedError } from 'hardhat/internal/core/providers/errors';

/**
 * What the embedded chain answers to anyone who reaches its port: reads and signed (raw)
 * transactions, as a public node does. The development node's administration (hardhat_*,
 * evm_*, debug_*: rewrite balances, time, history) and its unlocked accounts (eth_accounts,
 * eth_sendTransaction, eth_sign*) are not served: the platform signs its transactions itself.
 */
const PUBLIC_METHODS = new Set([
  'web3_clientVersion',
  'net_version',
  'net_listening',
  'eth_chainId',
  'eth_syncing',
  'eth_blockNumber',
  'eth_gasPrice',
  'eth_maxPriorityFeePerGas',
  'eth_feeHistory',
  'eth_estimateGas',
  'eth_call',
  'eth_getBalance',
  'eth_getCode',
  'eth_getStorageAt',
  'eth_getTransactionCount',
  'eth_getTransactionByHash',
  'eth_getTransactionReceipt',
  'eth_getBlockByNumber',
  'eth_getBlockByHash',
  'eth_getBlockTransactionCountByNumber',
  'eth_getBlockTransactionCountByHash',
  'eth_getLogs',
  'eth_newFilter',
  'eth_newBlockFilter',
  'eth_getFilterChanges',
  'eth_getFilterLogs',
  'eth_uninstallFilter',
  'eth_sendRawTransaction',
]);

export function isPublicRpcMethod(method: string): boolean {
  return PUBLIC_METHODS.has(method);
}

/** The provider as the JSON-RPC server should serve it to the outside. */
export function publicRpcProvider(provider: EIP1193Provider): EIP1193Provider {
  return new Proxy(provider, {
    get(target, property, receiver) {
      if (property !== 'request') return Reflect.get(target, property, receiver);
      return async (args: RequestArguments) => {
        // No unlocked accounts here: an empty list, as a public node answers.
        if (args.method === 'eth_accounts') return [];
        if (!isPublicRpcMethod(args.method)) throw new MethodNotSupportedError(args.method);
        return target.request(args);
      };
    },
  });
}
