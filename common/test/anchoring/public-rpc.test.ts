import { JsonRpcProvider, Wallet } from 'ethers';
import { startEmbeddedChain, type EmbeddedChain } from '@ecom/blockchain/src/embedded-chain';

// The embedded chain's port answers as a public node: reads and signed transactions, but no
// unlocked accounts and none of the development node's administration.

let chain: EmbeddedChain;
beforeAll(async () => {
  chain = await startEmbeddedChain({ port: 0, anchorers: 1 });
});
afterAll(() => chain?.stop());

async function rpc(method: string, params: unknown[] = []) {
  const res = await fetch(chain.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
}

it('lists no accounts and refuses to sign or send for one', async () => {
  expect((await rpc('eth_accounts')).result).toEqual([]);
  const from = new Wallet(chain.deployerKey).address;
  for (const [method, params] of [
    ['eth_sendTransaction', [{ from, to: from, value: '0x1' }]],
    ['eth_sign', [from, '0x00']],
    ['personal_sign', ['0x00', from]],
  ] as const) {
    const answer = await rpc(method, [...params]);
    expect(answer.error?.code).toBe(-32004);
  }
});

it('refuses the development node administration', async () => {
  for (const method of [
    'evm_snapshot',
    'evm_mine',
    'hardhat_setBalance',
    'hardhat_reset',
    'debug_traceTransaction',
  ]) {
    expect((await rpc(method)).error?.message).toBe(`Method ${method} is not supported`);
  }
});

it('serves reads and signed transactions', async () => {
  expect((await rpc('eth_chainId')).result).toBe('0x7a69');
  const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true });
  try {
    const wallet = new Wallet(chain.deployerKey, provider);
    const before = await provider.getBlockNumber();
    const tx = await wallet.sendTransaction({ to: wallet.address, value: 1n });
    const receipt = await tx.wait();
    expect(receipt?.status).toBe(1);
    expect(receipt!.blockNumber).toBeGreaterThan(before);
  } finally {
    provider.destroy();
  }
});
