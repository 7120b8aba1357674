import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDataDir, resetDataDir } from '../src/data-dir';
import { DataDirInUseError, lockDataDir } from '../src/data-dir-lock';
import { startProcessFleet } from '../src/fleet-processes/launcher';
import { parseFleetArgs } from '../src/fleet-processes/plan';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir } from './support';

// One data directory, one platform: a second run on it loaded the stores and the chain journal
// and wrote them back over the first's, and neither could start again afterwards.
const ROOT = path.resolve(__dirname, '..', '..');

jest.setTimeout(180_000);

const STALE_MS = 5000;

/**
 * Another process holding the lock of `dir` (as a running platform does), with a stale period
 * shorter than the default but long enough that a busy machine's stall is not taken for a death.
 */
async function holder(dir: string): Promise<ChildProcess> {
  const script = `
    const { lockDataDir } = require('./platform/src/data-dir-lock.ts');
    lockDataDir(${JSON.stringify(dir)}, { staleMs: ${STALE_MS} }).then(() => console.log('locked'));
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${out}`)));
  });
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });

describe('the data directory lock', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    dir = tempDataDir('lock');
    ensureDataDir(dir);
  });

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    child = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second holder while the first lives, naming the directory and the holder, and is free once it stops', async () => {
    child = await holder(dir);
    const waits: string[] = [];
    const second = lockDataDir(dir, {
      staleMs: STALE_MS,
      waitMs: STALE_MS + 2000,
      onWait: (m) => waits.push(m),
    });
    await expect(second).rejects.toBeInstanceOf(DataDirInUseError);
    const message = await second.catch((err: Error) => err.message);
    expect(message).toContain(`running on the data directory ${dir}`);
    expect(message).toContain(`(process ${child.pid} on `);
    // It kept the lock fresh past its stale period: a live holder is never taken over.
    expect(waits).toHaveLength(1);

    // Stopped by a signal, it gives the lock back at once.
    child.kill('SIGTERM');
    await exited(child);
    const release = await lockDataDir(dir, { staleMs: STALE_MS, waitMs: 0 });
    await release();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
  });

  it("takes over a killed holder's lock once it went stale, saying it waits", async () => {
    child = await holder(dir);
    child.kill('SIGKILL');
    await exited(child);
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(true); // nobody gave it back
    const waits: string[] = [];
    const release = await lockDataDir(dir, {
      staleMs: STALE_MS,
      waitMs: 10_000,
      onWait: (m) => waits.push(m),
    });
    expect(waits.join('\n')).toMatch(/is locked \(process \d+ .*waiting up to 10 s/);
    await release();
  });

  it('npm run reset refuses while a platform holds the directory, and deletes nothing', async () => {
    fs.writeFileSync(path.join(dir, 'keep-me'), 'data');
    child = await holder(dir);
    const reset = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'platform/src/reset-cli.ts')],
      { cwd: ROOT, env: { ...process.env, DATA_DIR: dir }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(reset.status).toBe(1);
    expect(reset.stderr).toContain(`another platform is running on the data directory ${dir}`);
    expect(fs.readFileSync(path.join(dir, 'keep-me'), 'utf8')).toBe('data');

    child.kill('SIGTERM');
    await exited(child);
    const again = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'platform/src/reset-cli.ts')],
      { cwd: ROOT, env: { ...process.env, DATA_DIR: dir }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(again.status).toBe(0);
    // Emptied, but still marked as the platform's: it can be reset again.
    expect(fs.readdirSync(dir)).toEqual(['.ecom-data']);
    const third = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'platform/src/reset-cli.ts')],
      { cwd: ROOT, env: { ...process.env, DATA_DIR: dir }, encoding: 'utf8', timeout: 60_000 },
    );
    expect(third.status).toBe(0);
  });

  it("a reset leaves a running process fleet's folder (locked on its own) and everything else alone", async () => {
    const fleetDir = path.join(dir, 'fleet-ecom_fleet');
    ensureDataDir(fleetDir);
    fs.writeFileSync(path.join(dir, 'keep-me'), 'data');
    child = await holder(fleetDir);
    expect(() => resetDataDir(dir)).toThrow(
      `another platform is running on the data directory ${fleetDir}`,
    );
    expect(fs.readFileSync(path.join(dir, 'keep-me'), 'utf8')).toBe('data');
    expect(fs.existsSync(path.join(fleetDir, '.lock'))).toBe(true);
  });
});

describe("a process fleet's folder", () => {
  it('a fleet on a folder another process holds is refused before it starts any process', async () => {
    const dir = tempDataDir('lock-fleet');
    ensureDataDir(dir);
    const release = await lockDataDir(dir, { staleMs: STALE_MS });
    try {
      const printed: string[] = [];
      await expect(
        startProcessFleet({
          replicas: parseFleetArgs([]).replicas, // one of each, as `npm run fleet`
          // The machine's servers, as `npm run fleet` uses them (checked before the lock).
          env: { ...process.env, EVENT_BUS: 'rabbitmq' },
          namespace: 'lock_test',
          dataDir: dir,
          print: (line) => printed.push(line),
        }),
      ).rejects.toBeInstanceOf(DataDirInUseError);
      expect(printed.join('\n')).toContain(
        `the data directory ${dir} is locked (process ${process.pid}`,
      );
      // Nothing of that fleet was started: its log folder is made after the lock.
      expect(fs.existsSync(path.join(dir, 'logs'))).toBe(false);
    } finally {
      await release();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('two platforms on one data directory', () => {
  const first = platformPorts(22000);
  const second = platformPorts(23000);
  let dataDir: string;
  let platform: Platform | undefined;

  beforeAll(() => {
    dataDir = tempDataDir('lock-platform');
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the second start (on other ports) is refused before it opens a store, and the first keeps serving', async () => {
    platform = await startPlatform({
      env: embeddedEnv(dataDir),
      ports: first,
      print: () => {},
    });
    const api = gatewayClient(`http://127.0.0.1:${first.services.gateway}`);
    const before = (await api<{ items: unknown[] }>('GET', '/api/products?limit=100')).body.items;
    expect(before.length).toBeGreaterThan(0);
    const journal = path.join(dataDir, 'chain', 'journal.jsonl');
    const journalBefore = fs.readFileSync(journal);

    for (const reset of [false, true]) {
      await expect(
        startPlatform({
          env: embeddedEnv(dataDir),
          ports: second,
          reset,
          print: () => {},
          lock: { waitMs: 500 },
        }),
      ).rejects.toBeInstanceOf(DataDirInUseError);
    }
    // Nothing of the second run reached the directory, and the first one is whole.
    expect(fs.readFileSync(journal).equals(journalBefore)).toBe(true);
    const after = (await api<{ items: unknown[] }>('GET', '/api/products?limit=100')).body.items;
    expect(after).toHaveLength(before.length);

    // Stopped, it lets the next start in at once.
    await platform.stop();
    platform = await startPlatform({
      env: embeddedEnv(dataDir),
      ports: second,
      print: () => {},
      lock: { waitMs: 0 },
    });
    const api2 = gatewayClient(`http://127.0.0.1:${second.services.gateway}`);
    expect(
      (await api2<{ items: unknown[] }>('GET', '/api/products?limit=100')).body.items,
    ).toHaveLength(before.length);
  });
});
