import fs from 'node:fs';
import path from 'node:path';
import { Contract, HDNodeWallet, JsonRpcProvider, keccak256, toUtf8Bytes, Wallet } from 'ethers';
import { AUDIT_ANCHOR_ABI } from '@ecom/common/anchoring';
import { CHAIN_DIR, startChain, type ChainEndpoint } from '../src/chain';
import { serviceEnv, type FleetContext } from '../src/service-env';
import { tempDataDir } from './support';

// The embedded chain of `npm start` (issue: its admin and anchorers were Hardhat's public
// development accounts, whose keys anyone has): its keys are random per data directory, kept
// readable by the owner only, and no public account holds a role on the contract.

jest.setTimeout(120_000);

const HARDHAT_MNEMONIC = 'test test test test test test test test test test test junk';
const hardhatWallets = Array.from({ length: 20 }, (_, i) =>
  HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`),
);
const hardhatKeys = new Set(hardhatWallets.map((w) => w.privateKey));
const ANCHORER_ROLE = keccak256(toUtf8Bytes('ANCHORER_ROLE'));
const ADMIN_ROLE = `0x${'00'.repeat(32)}`;

const dirs: string[] = [];
const chains: ChainEndpoint[] = [];
const providers: JsonRpcProvider[] = [];

afterAll(async () => {
  for (const p of providers) p.destroy();
  for (const c of chains) await c.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function start(dir: string): Promise<ChainEndpoint> {
  // Port 0: a free port; the chain keeps its state in dir/chain.
  const chain = await startChain({}, 0, dir);
  chains.push(chain);
  return chain;
}

function contractOf(chain: ChainEndpoint): Contract {
  const provider = new JsonRpcProvider(chain.url, 31337, { staticNetwork: true });
  providers.push(provider);
  return new Contract(chain.contractAddress!, AUDIT_ANCHOR_ABI, provider);
}

describe("the embedded chain's keys", () => {
  let first: ChainEndpoint;
  let dirA: string;

  beforeAll(async () => {
    dirA = tempDataDir('chain-keys-a');
    dirs.push(dirA);
    first = await start(dirA);
  });

  it('no Hardhat public account holds a role; the data dir’s own keys do', async () => {
    const contract = contractOf(first);
    for (const wallet of hardhatWallets) {
      expect(await contract.hasRole(ADMIN_ROLE, wallet.address)).toBe(false);
      expect(await contract.hasRole(ANCHORER_ROLE, wallet.address)).toBe(false);
    }
    expect(first.anchorerKeys).toHaveLength(2);
    for (const key of first.anchorerKeys) {
      expect(hardhatKeys.has(key)).toBe(false);
      expect(await contract.hasRole(ANCHORER_ROLE, new Wallet(key).address)).toBe(true);
    }
    const keys = JSON.parse(fs.readFileSync(path.join(dirA, CHAIN_DIR, 'keys.json'), 'utf8')) as {
      admin: string;
      anchorers: string[];
    };
    expect(hardhatKeys.has(keys.admin)).toBe(false);
    expect(await contract.hasRole(ADMIN_ROLE, new Wallet(keys.admin).address)).toBe(true);
    expect(keys.anchorers).toEqual(first.anchorerKeys);
  });

  it('refuses a public account that signs an anchor or a role grant itself', async () => {
    const provider = new JsonRpcProvider(first.url, 31337, { staticNetwork: true });
    providers.push(provider);
    const stranger = hardhatWallets[0]!.connect(provider);
    const contract = new Contract(first.contractAddress!, AUDIT_ANCHOR_ABI, stranger);
    const root = keccak256(toUtf8Bytes('forged'));
    // OpenZeppelin's AccessControlUnauthorizedAccount(address,bytes32), not in the client's ABI.
    const unauthorized = /0xe2517d3f/;
    await expect(contract.anchor(root, root, 1, ADMIN_ROLE)).rejects.toThrow(unauthorized);
    await expect(contract.grantRole(ANCHORER_ROLE, stranger.address)).rejects.toThrow(unauthorized);
    expect(await contract.hasRole(ANCHORER_ROLE, stranger.address)).toBe(false);
  });

  it('keeps the keys readable by the owner only', () => {
    const mode = (file: string) => fs.statSync(file).mode & 0o777;
    expect(mode(path.join(dirA, CHAIN_DIR))).toBe(0o700);
    expect(mode(path.join(dirA, CHAIN_DIR, 'keys.json'))).toBe(0o600);
    expect(mode(path.join(dirA, CHAIN_DIR, 'journal.jsonl'))).toBe(0o600);
  });

  it('gives the services the data dir’s keys to anchor and sign promises with', () => {
    const context = {
      env: {},
      keys: { privateKey: '', publicKey: '' },
      chain: first,
      urls: { order: [], product: [], auth: [] },
    } as unknown as FleetContext;
    const payment = serviceEnv('payment', 1, context);
    const order = serviceEnv('order', 2, context);
    expect(payment.ANCHOR_PRIVATE_KEY).toBe(first.anchorerKeys[0]);
    expect(order.ANCHOR_PRIVATE_KEY).toBe(first.anchorerKeys[1]);
    expect(payment.ANCHOR_PRIVATE_KEY).not.toBe(order.ANCHOR_PRIVATE_KEY);
    for (const env of [payment, order])
      expect(hardhatKeys.has(env.ANCHOR_PRIVATE_KEY!)).toBe(false);
  });

  it('another data dir has other keys and another contract', async () => {
    const dirB = tempDataDir('chain-keys-b');
    dirs.push(dirB);
    const second = await start(dirB);
    expect(second.anchorerKeys.some((k) => first.anchorerKeys.includes(k))).toBe(false);
    expect(second.contractAddress).not.toBe(first.contractAddress);
  });

  it('the same data dir, restarted: the same keys, contract and blocks, replayed', async () => {
    const contract = contractOf(first);
    const head = await contract.runner!.provider!.getBlock('latest');
    await first.stop();
    chains.splice(chains.indexOf(first), 1);
    // A crash in the middle of a journal write leaves a torn last line: it is ignored.
    fs.appendFileSync(path.join(dirA, CHAIN_DIR, 'journal.jsonl'), '{"n":99,"t":1,"h":"0x');
    const again = await start(dirA);
    expect(again.anchorerKeys).toEqual(first.anchorerKeys);
    expect(again.contractAddress).toBe(first.contractAddress);
    const provider = contractOf(again).runner!.provider!;
    const block = await provider.getBlock(head!.number);
    expect(block!.hash).toBe(head!.hash);
    expect(await provider.getBlockNumber()).toBe(head!.number);
    // Nothing was deployed or granted again, and the torn line is gone from the journal.
    const lines = fs.readFileSync(path.join(dirA, CHAIN_DIR, 'journal.jsonl'), 'utf8');
    expect(lines.endsWith('\n')).toBe(true);
    expect(lines.trim().split('\n')).toHaveLength(head!.number);
  });
});
