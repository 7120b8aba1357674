import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { ethers } from 'hardhat';
import type { Contract, Signer } from 'ethers';
import {
  checkLog,
  fetchChainEvents,
  findDeploymentBlock,
  replayLog,
  runMonitor,
  type Finding,
  type MonitorInput,
  type PublishedLog,
} from '../src/monitor';
import { signPromise, type AnchorPromise } from '../src/verification';
import {
  batchesBySequence,
  entryChain,
  logInfo,
  makeEntry,
  ServiceLog,
  type Entry,
} from './support/log-fixture';

const CHAIN_ID = 31337;
const NOW = Math.floor(Date.now() / 1000);
const DEADLINE = NOW + 600;

interface Scenario {
  contract: Contract;
  address: string;
  deployBlock: number;
  admin: Signer;
  stranger: Signer;
  order: ServiceLog;
  payment: ServiceLog;
  orders: Entry[][];
  payments: Entry[][];
}

/**
 * A real log: AuditAnchor deployed, two service anchorers granted, orders (1-4 entries each) and
 * payments (1-3 entries each) anchored in several batches per service, every entry promised.
 */
async function scenario(): Promise<Scenario> {
  const [admin, orderKey, paymentKey, stranger] = await ethers.getSigners();
  const contract = (await ethers.deployContract('AuditAnchor', [
    admin.address,
    orderKey.address,
  ])) as unknown as Contract;
  await contract.waitForDeployment();
  const deployBlock = (await contract.deploymentTransaction()!.wait())!.blockNumber;
  const address = await contract.getAddress();
  await (await contract.grantRole(await contract.ANCHORER_ROLE(), paymentKey.address)).wait();
  const order = new ServiceLog(
    logInfo('order', orderKey.address, CHAIN_ID, address),
    orderKey,
    contract,
  );
  const payment = new ServiceLog(
    logInfo('payment', paymentKey.address, CHAIN_ID, address),
    paymentKey,
    contract,
  );
  const orders = Array.from({ length: 6 }, (_, i) =>
    entryChain('order', randomUUID(), 1 + (i % 4)),
  );
  const payments = Array.from({ length: 4 }, (_, i) =>
    entryChain('payment', randomUUID(), 1 + (i % 3)),
  );
  for (const batch of batchesBySequence(orders)) await order.anchor(batch);
  for (const batch of batchesBySequence(payments)) await payment.anchor(batch);
  await order.promise(orders.flat(), DEADLINE);
  await payment.promise(payments.flat(), DEADLINE);
  return { contract, address, deployBlock, admin, stranger, order, payment, orders, payments };
}

async function inputOf(s: Scenario, overrides: Partial<MonitorInput> = {}): Promise<MonitorInput> {
  return {
    chainId: CHAIN_ID,
    contractAddress: s.address,
    events: await fetchChainEvents(ethers.provider, s.address, s.deployBlock),
    // Deep copies: a test corrupts its own view of what the services publish.
    logs: [s.order, s.payment].map(({ info, batches, promises }) =>
      structuredClone({ info, batches, promises }),
    ),
    promises: [],
    knownAnchorers: [s.order.info.anchorer, s.payment.info.anchorer],
    now: NOW,
    ...overrides,
  };
}

const kinds = (findings: Finding[]): string[] => findings.map((f) => f.kind);

describe('monitor (checkLog over a real log on the Hardhat network)', () => {
  let s: Scenario;
  beforeEach(async () => {
    s = await scenario();
  });

  it('finds nothing in a clean log, and counts what it replayed', async () => {
    const input = await inputOf(s);
    const { findings, stats } = replayLog(input);
    expect(findings).to.deep.equal([]);
    const entries = [...s.orders, ...s.payments].flat();
    expect(stats).to.deep.equal({
      batches: s.order.batches.length + s.payment.batches.length,
      leaves: entries.length,
      records: s.orders.length + s.payments.length,
      promises: entries.length,
      promisesPending: 0,
      otherLogBatches: 0,
    });
    // The fetching layer read every event: constructor grants, one grant, every anchor.
    expect(input.events.filter((e) => e.name === 'RoleGranted')).to.have.length(3);
    expect(await findDeploymentBlock(ethers.provider, s.address)).to.equal(s.deployBlock);
  });

  it('unpublished-root: a root on chain whose batch the service does not publish', async () => {
    const hidden = await s.order.anchor(
      [makeEntry('order', randomUUID(), 1, ethers.ZeroHash)],
      false,
    );
    const findings = checkLog(await inputOf(s));
    expect(kinds(findings)).to.deep.equal(['unpublished-root']);
    expect(findings[0].subject).to.equal(hidden.root);
  });

  it('unpublished-root: a root published only by a service whose anchorer did not write it', async () => {
    const input = await inputOf(s);
    const [order, payment] = input.logs;
    payment.batches.push(order.batches.pop()!);
    const findings = checkLog(input);
    // The payment service also claims a batch its own key never anchored.
    expect(kinds(findings)).to.deep.equal(['unpublished-root', 'published-not-on-chain']);
    expect(findings[0].message).to.contain('published by payment, another anchorer');
    expect(findings[1].message).to.contain("not by the service's anchorer");
  });

  it('root-mismatch: a leaf changed in a published batch', async () => {
    const input = await inputOf(s);
    const batch = input.logs[0].batches.at(-1)!;
    batch.leaves[0].leaf = ethers.hexlify(ethers.randomBytes(32));
    const findings = checkLog(input);
    expect(kinds(findings)).to.deep.equal(['root-mismatch']);
    expect(findings[0].subject).to.equal(batch.root);
  });

  it('published-not-on-chain: a published confirmed batch that was never anchored', async () => {
    const input = await inputOf(s);
    const fake = structuredClone(input.logs[1].batches.at(-1)!);
    const entry = makeEntry('payment', randomUUID(), 1, ethers.ZeroHash);
    fake.seq += 1;
    fake.root = entry.leaf; // a one-leaf tree's root is its leaf
    fake.leaves = [{ leaf: entry.leaf, recordKey: entry.recordKey, sequence: 1 }];
    input.logs[1].batches.push(fake);
    const findings = checkLog(input);
    expect(kinds(findings)).to.deep.equal(['published-not-on-chain']);
    expect(findings[0].subject).to.equal(entry.leaf);
  });

  it('equivocation: the operator key anchors (and publishes) a second leaf for an existing entry', async () => {
    const victim = s.orders[3];
    const rewritten = makeEntry('order', victim[1].recordId, 2, victim[0].leaf);
    // The contract accepts it: the batch extends the operator's own log.
    await s.order.anchor([rewritten, makeEntry('order', randomUUID(), 1, ethers.ZeroHash)]);
    const findings = checkLog(await inputOf(s));
    expect(kinds(findings)).to.deep.equal(['equivocation']);
    expect(findings[0].subject).to.equal(`${victim[1].recordKey}#2`);
    expect(findings[0].message).to.contain(victim[1].leaf.slice(0, 10));
    expect(findings[0].message).to.contain(rewritten.leaf.slice(0, 10));
  });

  it('equivocation: also between an anchored leaf and a conflicting published pending batch', async () => {
    const input = await inputOf(s);
    const victim = s.payments[2];
    const other = makeEntry('payment', victim[0].recordId, 1, ethers.ZeroHash);
    input.logs[1].batches.push({
      ...structuredClone(input.logs[1].batches[0]),
      seq: 99,
      status: 'pending',
      root: other.leaf,
      txHash: null,
      blockNumber: null,
      leaves: [{ leaf: other.leaf, recordKey: other.recordKey, sequence: 1 }],
    });
    expect(kinds(checkLog(input))).to.deep.equal(['equivocation']);
  });

  it('sequence-gap: a record whose anchored entries skip a sequence', async () => {
    const record = s.orders[1]; // entries 1..2
    await s.order.anchor([makeEntry('order', record[0].recordId, 4, record[1].leaf)]);
    const findings = checkLog(await inputOf(s));
    expect(kinds(findings)).to.deep.equal(['sequence-gap']);
    expect(findings[0].subject).to.equal(record[0].recordKey);
    expect(findings[0].message).to.contain('sequence 3 missing below 4');
  });

  it('sequence-gap: not while the missing entry is in a published batch on its way', async () => {
    const record = s.orders[1];
    const third = makeEntry('order', record[0].recordId, 3, record[1].leaf);
    await s.order.anchor([makeEntry('order', record[0].recordId, 4, third.leaf)]);
    const input = await inputOf(s);
    input.logs[0].batches.push({
      ...structuredClone(input.logs[0].batches[0]),
      seq: 99,
      status: 'sent',
      root: third.leaf,
      leaves: [{ leaf: third.leaf, recordKey: third.recordKey, sequence: 3 }],
    });
    expect(checkLog(input)).to.deep.equal([]);
  });

  it('broken-chain: an anchor whose previous root is not its anchorer’s previous root', async () => {
    const input = await inputOf(s);
    // An RPC node that hides one AnchorRecorded log: the replay sees the order log jump.
    const anchors = input.events.filter(
      (e) => e.name === 'AnchorRecorded' && e.anchorer === s.order.info.anchorer,
    );
    input.events = input.events.filter((e) => e !== anchors[1]);
    const findings = checkLog(input);
    expect(kinds(findings)).to.include('broken-chain');
    const broken = findings.find((f) => f.kind === 'broken-chain')!;
    expect(broken.subject).to.equal((anchors[2] as { root: string }).root);
  });

  it('unknown-anchorer: ANCHORER_ROLE granted to an account outside the known set', async () => {
    const role = (await s.contract.ANCHORER_ROLE()) as string;
    const stranger = await s.stranger.getAddress();
    await (await s.contract.grantRole(role, stranger)).wait();
    await (await s.contract.revokeRole(role, stranger)).wait();
    const findings = checkLog(await inputOf(s));
    expect(kinds(findings)).to.deep.equal(['unknown-anchorer']);
    expect(findings[0].subject).to.equal(stranger);
    expect(findings[0].message).to.match(
      /granted ANCHORER_ROLE by 0x[0-9a-fA-F]{40} in block \d+, revoked/,
    );
  });

  it('broken-promise: deadline passed and the promised leaf is not in the log', async () => {
    const unanchored = makeEntry('order', randomUUID(), 1, ethers.ZeroHash);
    const [promise] = await s.order.promise([unanchored], NOW + 60);
    // Before the deadline it is pending, not broken.
    const before = replayLog(await inputOf(s));
    expect(before.findings).to.deep.equal([]);
    expect(before.stats.promisesPending).to.equal(1);
    const findings = checkLog(await inputOf(s, { now: NOW + 61 }));
    expect(kinds(findings)).to.deep.equal(['broken-promise']);
    expect(findings[0].subject).to.equal(`${promise.recordKey}#1`);
    expect(findings[0].message).to.contain('deadline');
  });

  it('broken-promise: a kept promise whose leaf differs from the anchored one (from a file)', async () => {
    const entry = s.payments[1][1];
    // What the service promised the customer at write time, then anchored something else.
    const promise = await signPromise(s.payment.signer, {
      chainId: CHAIN_ID,
      recordType: 'payment',
      recordId: entry.recordId,
      sequence: entry.sequence,
      leaf: ethers.hexlify(ethers.randomBytes(32)),
      deadline: DEADLINE,
    });
    const findings = checkLog(await inputOf(s, { promises: [promise] }));
    expect(kinds(findings)).to.deep.equal(['broken-promise']);
    expect(findings[0].message).to.contain('the log holds');
  });

  it('bad-signature: a forged promise (altered, or signed by an unknown key)', async () => {
    const entry = s.orders[0][0];
    const genuine = s.order.promises.find((p) => p.leaf === entry.leaf)!;
    const altered: AnchorPromise = { ...genuine, deadline: genuine.deadline + 3600 };
    const byStranger = {
      ...(await signPromise(s.stranger, {
        chainId: CHAIN_ID,
        recordType: 'order',
        recordId: entry.recordId,
        sequence: 1,
        leaf: entry.leaf,
        deadline: DEADLINE,
      })),
    };
    const claimsOperator = { ...byStranger, signer: s.order.info.anchorer };
    const findings = checkLog(
      await inputOf(s, { promises: [altered, byStranger, claimsOperator] }),
    );
    expect(kinds(findings)).to.deep.equal(['bad-signature', 'bad-signature', 'bad-signature']);
    expect(findings[1].message).to.contain('not a known anchorer');
  });

  it('skips published batches of another log (an earlier contract)', async () => {
    const input = await inputOf(s);
    const old = structuredClone(input.logs[0].batches[0]);
    old.contractAddress = ethers.hexlify(ethers.randomBytes(20));
    old.root = ethers.hexlify(ethers.randomBytes(32));
    input.logs[0].batches.unshift(old);
    const { findings, stats } = replayLog(input);
    expect(findings).to.deep.equal([]);
    expect(stats.otherLogBatches).to.equal(1);
  });
});

describe('monitor (runMonitor: public log pages over HTTP, events from the provider)', () => {
  let server: Server;
  let published: PublishedLog[];
  let s: Scenario;
  /** A broken server: says there is more but hands back the cursor it was given. */
  let stuck = false;

  before(async () => {
    s = await scenario();
    // Serves §3's routes in the cursor envelope, two items a page whatever the limit asked.
    server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const match = /^\/api\/blockchain\/(\w+)\/log(\/info|\/promises)?$/.exec(url.pathname);
      const log = published.find((l) => l.info.service === match?.[1]);
      if (!match || !log) {
        res.writeHead(404).end('{}');
        return;
      }
      let body: unknown = log.info;
      if (match[2] !== '/info') {
        const items: unknown[] = match[2] === '/promises' ? log.promises : log.batches;
        // Positions are places in the array, from 1, as a log's seq or entry id would be.
        const after = Number(url.searchParams.get('after') ?? 0);
        const limit = 2;
        const page = items.slice(after, after + limit);
        body = {
          items: page,
          limit,
          next: stuck ? after : after + page.length,
          hasMore: stuck || after + page.length < items.length,
        };
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function run(extra: { promises?: AnchorPromise[] } = {}): Promise<{
    code: number;
    out: string[];
  }> {
    const out: string[] = [];
    const code = await runMonitor({
      provider: ethers.provider,
      gatewayUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      contractAddress: s.address,
      print: (line) => out.push(line),
      ...extra,
    });
    return { code, out };
  }

  it('exits 0 with "no findings" and its counts on the clean log (every page read)', async () => {
    published = [s.order, s.payment];
    const { code, out } = await run();
    expect(code).to.equal(0);
    const entries = [...s.orders, ...s.payments].flat().length;
    const batches = s.order.batches.length + s.payment.batches.length;
    expect(out.at(-1)).to.match(
      new RegExp(
        `^no findings: ${batches} batches, ${entries} leaves, 10 records, ${entries} promises checked \\(0 pending\\), [\\d,]+ leaves/s$`,
      ),
    );
    // Known anchorers default to the services' published ones.
    expect(out[0]).to.contain(
      `known anchorers: ${s.order.info.anchorer}, ${s.payment.info.anchorer}`,
    );
  });

  it('exits 1 and prints the findings table on a corrupted log', async () => {
    const corrupted = structuredClone(s.payment.batches);
    corrupted[0].leaves[0].leaf = ethers.hexlify(ethers.randomBytes(32));
    published = [s.order, { ...s.payment, batches: corrupted }];
    const { code, out } = await run();
    expect(code).to.equal(1);
    const table = out.slice(1).join('\n');
    expect(table).to.match(/^severity +kind +subject +message/);
    expect(table).to.match(new RegExp(`\\nerror +root-mismatch +${corrupted[0].root}`));
    expect(out.at(-1)).to.match(/^\d+ findings?: /);
  });

  it('stops with an error, not a loop, when the log says there is more but the cursor stays', async () => {
    published = [s.order, s.payment];
    stuck = true;
    try {
      const failed = await run().then(
        () => null,
        (err: Error) => err,
      );
      expect(failed?.message).to.match(/the cursor did not move past 0$/);
    } finally {
      stuck = false;
    }
  });

  it('checks promises given to it (a file of kept promises) too', async () => {
    published = [s.order, s.payment];
    const forged = { ...s.order.promises[0], sequence: 7 };
    const { code, out } = await run({ promises: [forged] });
    expect(code).to.equal(1);
    expect(out.join('\n')).to.contain('bad-signature');
  });
});
