/**
 * The monitor across time (docs/verification.md §6): what a fresh chain leaves behind
 * (superseded batches it can no longer prove), and what vanishes from the published logs
 * between two runs (MONITOR_STATE_FILE), on a real log on the Hardhat network.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ethers } from 'hardhat';
import type { Contract } from 'ethers';
import {
  fetchChainEvents,
  replayLog,
  runMonitor,
  type Finding,
  type MonitorInput,
  type MonitorStateStore,
  type PublishedBatch,
  type PublishedLog,
  type PublishedPromise,
} from '../src/monitor';
import { monitorOptionsFromEnv } from '../src/monitor-cli';
import { fileStateStore, readKeptPromises, readMonitorState } from '../src/monitor-state';
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

const kinds = (findings: Finding[]): string[] => findings.map((f) => f.kind);
const errors = (findings: Finding[]): Finding[] => findings.filter((f) => f.severity === 'error');

/** Promises as the public log serves them: without the record id. */
const published = (promises: PublishedPromise[]): PublishedPromise[] =>
  promises.map((x) => {
    const copy = { ...x };
    delete copy.recordId;
    return copy;
  });

async function deployAnchor(): Promise<{ contract: Contract; address: string; block: number }> {
  const [admin, orderKey] = await ethers.getSigners();
  const contract = (await ethers.deployContract('AuditAnchor', [
    admin.address,
    orderKey.address,
  ])) as unknown as Contract;
  await contract.waitForDeployment();
  const block = (await contract.deploymentTransaction()!.wait())!.blockNumber;
  return { contract, address: await contract.getAddress(), block };
}

/** What the order service publishes, as a test changes it (its own copy). */
interface Published {
  address: string;
  fromBlock: number;
  log: PublishedLog;
  orders: Entry[][];
  key: Awaited<ReturnType<typeof ethers.getSigners>>[number];
}

/** The order service's log: 5 orders (1-3 entries), several batches, every entry promised. */
async function orderLog(): Promise<Published & { service: ServiceLog }> {
  const { contract, address, block } = await deployAnchor();
  const [, key] = await ethers.getSigners();
  const service = new ServiceLog(logInfo('order', key.address, CHAIN_ID, address), key, contract);
  const orders = Array.from({ length: 5 }, (_, i) =>
    entryChain('order', randomUUID(), 1 + (i % 3)),
  );
  for (const batch of batchesBySequence(orders)) await service.anchor(batch);
  await service.promise(orders.flat(), DEADLINE);
  return {
    address,
    fromBlock: block,
    log: structuredClone({
      info: service.info,
      batches: service.batches,
      promises: published(service.promises),
    }),
    orders,
    key,
    service,
  };
}

/**
 * The platform restarted on a fresh chain (the embedded chain keeps nothing): the same deployer
 * deploys at the same address, every published batch becomes superseded, and the service
 * anchors its entries again, as `entries` says (a rewrite is an operator's), in a new batch.
 */
async function restartOnFreshChain(
  p: Published,
  snapshot: string,
  entries: Entry[][],
): Promise<void> {
  await ethers.provider.send('evm_revert', [snapshot]);
  const { contract, address, block } = await deployAnchor();
  expect(address).to.equal(p.address); // what makes an old batch look like this log's
  const fresh = new ServiceLog(p.log.info, p.key, contract);
  // The backlog goes out in one batch: other roots than the old chain's.
  await fresh.anchor(entries.flat());
  const old = p.log.batches.length;
  for (const b of p.log.batches) b.status = 'superseded';
  p.log.batches.push(...fresh.batches.map((b, i) => ({ ...b, seq: old + i + 1 })));
  p.fromBlock = block;
}

async function inputOf(p: Published, overrides: Partial<MonitorInput> = {}): Promise<MonitorInput> {
  return {
    chainId: CHAIN_ID,
    contractAddress: p.address,
    events: await fetchChainEvents(ethers.provider, p.address, p.fromBlock),
    logs: [structuredClone(p.log)],
    promises: [],
    knownAnchorers: [p.log.info.anchorer],
    now: NOW,
    ...overrides,
  };
}

/** §3's routes over `fetch`, in the cursor envelope, two items a page. */
function gateway(logs: () => PublishedLog[]): typeof fetch {
  return (async (url: string | URL) => {
    const u = new URL(String(url));
    const match = /^\/api\/blockchain\/(\w+)\/log(\/info|\/promises)?$/.exec(u.pathname);
    const log = logs().find((l) => l.info.service === match?.[1]);
    if (!match || !log) return new Response('{}', { status: 404 });
    if (match[2] === '/info') return Response.json(log.info);
    const items: unknown[] = match[2] === '/promises' ? log.promises : log.batches;
    const after = Number(u.searchParams.get('after') ?? 0);
    const page = items.slice(after, after + 2);
    return Response.json({
      items: page,
      limit: 2,
      next: after + page.length,
      hasMore: after + page.length < items.length,
    });
  }) as typeof fetch;
}

async function run(
  p: Published,
  extra: { state?: MonitorStateStore; promises?: PublishedPromise[]; now?: number } = {},
): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await runMonitor({
    provider: ethers.provider,
    gatewayUrl: 'http://gateway.test',
    services: ['order'],
    contractAddress: p.address,
    fromBlock: p.fromBlock,
    fetchImpl: gateway(() => [structuredClone(p.log)]),
    print: (line) => out.push(...line.split('\n')),
    now: NOW,
    ...extra,
  });
  return { code, out };
}

describe('monitor: superseded batches (a fresh chain at the same address)', () => {
  let p: Published & { service: ServiceLog };
  let snapshot: string;
  beforeEach(async () => {
    snapshot = (await ethers.provider.send('evm_snapshot', [])) as string;
    p = await orderLog();
  });

  it('a clean restart: one chain-gone warning per batch it can no longer prove, exit 3', async () => {
    // A batch superseded before it was ever sent claimed nothing on chain: no warning.
    const neverSent: PublishedBatch = {
      ...structuredClone(p.log.batches[0]),
      seq: p.log.batches.length + 1,
      batchId: randomUUID(),
      status: 'pending',
      txHash: null,
      blockNumber: null,
    };
    p.log.batches.push(neverSent);
    const mined = p.log.batches.length - 1;
    await restartOnFreshChain(p, snapshot, p.orders);
    const { findings } = replayLog(await inputOf(p));
    expect(kinds(findings)).to.deep.equal(Array(mined).fill('chain-gone'));
    expect(findings.every((f) => f.severity === 'warning')).to.equal(true);
    expect(findings.map((f) => f.subject)).to.deep.equal(
      p.log.batches.slice(0, mined).map((b) => b.root.toLowerCase()),
    );
    expect(findings[0].message).to.match(/superseded; published as anchored in block \d+/);
    const { code, out } = await run(p);
    expect(code).to.equal(3);
    expect(out.join('\n')).to.match(/\nwarning +chain-gone +0x/);
  });

  it('a rewrite laundered through the re-anchoring (promise re-signed too) is an equivocation', async () => {
    const victim = p.orders[2]; // entries 1..3
    const forged = makeEntry('order', victim[1].recordId, 2, victim[0].leaf);
    const rewritten = p.orders.map((o) => o.map((e) => (e === victim[1] ? forged : e)));
    await restartOnFreshChain(p, snapshot, rewritten);
    // The key holder also re-signs the published promise for the new leaf: only the superseded
    // batch still says what entry 2 was.
    const [resigned] = await new ServiceLog(p.log.info, p.key, p.service.contract).promise(
      [forged],
      DEADLINE,
    );
    p.log.promises = p.log.promises.map((x) =>
      x.leaf === victim[1].leaf ? published([resigned])[0] : x,
    );
    const { findings } = replayLog(await inputOf(p));
    expect(kinds(errors(findings))).to.deep.equal(['equivocation']);
    expect(errors(findings)[0].subject).to.equal(`${victim[1].recordKey}#2`);
    expect(errors(findings)[0].message).to.contain(victim[1].leaf.slice(0, 10));
    expect(errors(findings)[0].message).to.contain(forged.leaf.slice(0, 10));
    expect(errors(findings)[0].message).to.contain('a chain that no longer holds it');
    const { code } = await run(p);
    expect(code).to.equal(1);
  });

  it('root-mismatch: a superseded batch whose leaves were edited to match the rewrite', async () => {
    const victim = p.orders[1];
    const forged = makeEntry('order', victim[0].recordId, 1, ethers.ZeroHash);
    const rewritten = p.orders.map((o) => o.map((e) => (e === victim[0] ? forged : e)));
    await restartOnFreshChain(p, snapshot, rewritten);
    const old = p.log.batches.find((b) => b.leaves.some((l) => l.leaf === victim[0].leaf))!;
    old.leaves.find((l) => l.leaf === victim[0].leaf)!.leaf = forged.leaf;
    p.log.promises = p.log.promises.filter((x) => x.leaf !== victim[0].leaf);
    const { findings } = replayLog(await inputOf(p));
    expect(kinds(errors(findings))).to.deep.equal(['root-mismatch']);
    expect(errors(findings)[0].subject).to.equal(old.root.toLowerCase());
  });
});

describe('monitor: what vanished since an earlier run (MONITOR_STATE_FILE)', () => {
  let p: Published & { service: ServiceLog };
  let dir: string;
  let file: string;
  beforeEach(async () => {
    p = await orderLog();
    dir = mkdtempSync(path.join(tmpdir(), 'monitor-state-'));
    file = path.join(dir, 'state.json');
  });

  it('a deleted order: its vanished promises, and after their deadline, broken promises', async () => {
    // One order anchored, one still queued (promised, not in a batch yet) when both are deleted.
    const anchored = p.orders[4];
    const queued = entryChain('order', randomUUID(), 2);
    p.log.promises.push(...published(await p.service.promise(queued, DEADLINE, false)));
    const state = fileStateStore(file);
    expect((await run(p, { state })).code).to.equal(0);
    const saved = readMonitorState(file)!;
    expect(saved.services.order.promises).to.have.length(p.log.promises.length);

    const gone = new Set([...anchored, ...queued].map((e) => e.leaf));
    p.log.promises = p.log.promises.filter((x) => !gone.has(x.leaf));
    const before = await run(p, { state });
    expect(before.code).to.equal(1);
    const vanished = before.out.filter((l) => /^error +vanished-promise /.test(l));
    expect(vanished).to.have.length(gone.size);
    expect(before.out.join('\n')).to.not.contain('broken-promise');

    // After the deadline the queued order's entries are not in the log: broken promises too.
    const after = await run(p, { state, now: DEADLINE + 1 });
    expect(after.out.filter((l) => /^error +vanished-promise /.test(l))).to.have.length(gone.size);
    const broken = after.out.filter((l) => /^error +broken-promise /.test(l));
    expect(broken.map((l) => l.split(/ +/)[2])).to.have.members(
      queued.map((e) => `${e.recordKey.toLowerCase()}#${e.sequence}`),
    );
  });

  it('vanished-leaf: a leaf once published that its batch no longer lists, or a batch gone', async () => {
    const state = fileStateStore(file);
    expect((await run(p, { state })).code).to.equal(0);
    // Someone edits the published log of a superseded batch to hide an entry (root recomputed
    // so that it still looks whole), and removes another batch altogether.
    const [first, second] = p.log.batches;
    const hidden = first.leaves.pop()!;
    first.status = 'superseded';
    first.blockNumber = null;
    first.root = hidden.leaf; // anything: the chain no longer helps here
    p.log.batches = p.log.batches.filter((b) => b !== second);
    const { code, out } = await run(p, { state });
    expect(code).to.equal(1);
    const lines = out.filter((l) => /^error +vanished-leaf /.test(l));
    expect(lines).to.have.length(2);
    expect(lines[0]).to.contain('1 of them no longer listed');
    expect(lines[0]).to.contain(`${hidden.recordKey!.toLowerCase()}#${hidden.sequence}`);
    expect(lines[1]).to.contain('the batch is no longer published');
    // The state keeps what vanished: the next run still reports it.
    expect((await run(p, { state })).out.filter((l) => /vanished-leaf/.test(l))).to.have.length(2);
  });

  it('a state file is written whole (temp, fsync, rename); an unreadable one stops the run', async () => {
    const state = fileStateStore(file);
    await run(p, { state });
    expect(readdirSync(dir)).to.deep.equal(['state.json']);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { version: number };
    expect(saved.version).to.equal(1);
    writeFileSync(file, '{"version": 1, "services": {"order": ');
    const failed = await run(p, { state }).then(
      () => null,
      (err: Error) => err,
    );
    expect(failed?.message).to.contain('not a monitor state');
  });

  it('without MONITOR_STATE_FILE nothing is kept', async () => {
    const env = { GATEWAY_URL: 'http://gateway.test' };
    expect(monitorOptionsFromEnv(env, path.join(dir, 'none.json')).state).to.equal(undefined);
    const withState = monitorOptionsFromEnv(
      { ...env, MONITOR_STATE_FILE: file },
      path.join(dir, 'none.json'),
    );
    expect(withState.state?.name).to.equal(file);
    await run(p);
    expect(existsSync(file)).to.equal(false);
  });
});

describe('monitor: PROMISES_FILE takes what an auditor or a customer saved', () => {
  it('curl pages of the public promise log, appended, a placement answer, a record answer', async () => {
    const p = await orderLog();
    const dir = mkdtempSync(path.join(tmpdir(), 'kept-'));
    // Two pages of the public promise log, as `curl … >> file` leaves them.
    const pages = [p.log.promises.slice(0, 3), p.log.promises.slice(3)].map((items, i) =>
      JSON.stringify({ items, limit: 3, next: 3 * (i + 1), hasMore: i === 0 }, null, 2),
    );
    writeFileSync(path.join(dir, 'order-log.json'), pages.join('\n'));
    // The placement answer and the record API's answer for an order whose entry was never
    // anchored, and whose promise the service no longer publishes (the order was deleted).
    const victim = makeEntry('order', randomUUID(), 1, ethers.ZeroHash);
    const [placed] = await p.service.promise([victim], DEADLINE, false);
    writeFileSync(
      path.join(dir, 'placed.json'),
      JSON.stringify({ id: victim.recordId, status: 'PENDING', anchorPromise: placed }),
    );
    writeFileSync(
      path.join(dir, 'record.json'),
      JSON.stringify({ records: [{ receipt: { promise: placed, leaf: victim.leaf } }] }),
    );
    const kept = readKeptPromises(dir);
    expect(kept).to.have.length(p.log.promises.length + 2);
    expect(readKeptPromises(path.join(dir, 'placed.json'))).to.deep.equal([placed]);

    // Checked after the deadline: the saved copy shows the promise the log no longer keeps.
    const { code, out } = await run(p, { promises: kept, now: DEADLINE + 1 });
    expect(code).to.equal(1);
    expect(out.join('\n')).to.contain(`kept promises given to it: ${kept.length}`);
    const broken = out.filter((l) => /^error +broken-promise /.test(l));
    expect(broken).to.have.length(1);
    expect(broken[0]).to.contain(`${victim.recordKey.toLowerCase()}#1`);
  });
});
