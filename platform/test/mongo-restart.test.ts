import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient } from 'mongodb';
import { eventually } from '@ecom/test-support';

/**
 * npm start's MongoDB stand-in on a disk that fills up and is freed again (`startMongo` in
 * platform/src/stores.ts). The stand-in stops when its journal cannot be written, as mongod
 * does; the launcher starts it again once it can write, and every write it acknowledged is
 * still there. The disk is filled for real, for one process: its file-size limit
 * (RLIMIT_FSIZE, with SIGXFSZ ignored, so a write past it fails EFBIG as on a full disk), then
 * raised from outside with util-linux's prlimit, as an operator frees space. The write that
 * meets the limit is written in part before it fails: a stand-in taking that short write for a
 * whole one acknowledged a torn entry, lost on the next start.
 */
describe("npm start's MongoDB stand-in on a disk that fills up", () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mongo-restart-'));
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts again once the journal can be written, every acknowledged write kept', async () => {
    const script = `
      process.on('SIGXFSZ', () => undefined);
      const { startMongo } = require('./platform/src/stores');
      startMongo(${JSON.stringify(dir)}, {}, 0, { restartDelayMs: 100, maxRestartDelayMs: 1000 }).then(
        (store) => {
          process.stdout.write('URL ' + store.url + '\\n');
          process.once('SIGTERM', () => store.stop().then(() => process.exit(0)));
        },
        (err) => { console.error(err); process.exit(1); },
      );`;
    // 1 MB of file for this process: the stand-in's first files fit, its journal soon does not.
    child = spawn(
      'prlimit',
      ['--fsize=1000000:unlimited', '--', process.execPath, '--import', 'tsx', '-e', script],
      { cwd: path.resolve(__dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /URL (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child!.once('exit', (code) => reject(new Error(`child exited ${code}: ${stderr}`)));
    });

    const client = new MongoClient(`${url}/fill?directConnection=true`, {
      serverSelectionTimeoutMS: 500,
      retryWrites: false,
    });
    const docs = client.db('fill').collection<{ _id: number; pad: string }>('docs');
    const acknowledged: number[] = [];
    let refused: unknown;
    for (let i = 0; i < 1000 && !refused; i++) {
      try {
        await docs.insertOne({ _id: i, pad: 'x'.repeat(10_000) });
        acknowledged.push(i);
      } catch (err) {
        refused = err;
      }
    }
    expect(refused).toBeDefined();
    expect(acknowledged.length).toBeGreaterThan(10);
    expect(stderr).toContain('journal failed');
    // The space comes back. (A file-size limit is per file: a fresh journal may fit under it
    // again, so whether the stand-in could start again before this is not asserted.)
    expect(child.exitCode).toBeNull();
    execFileSync('prlimit', ['--pid', String(child.pid), '--fsize=unlimited:unlimited']);
    let lastError = '';
    await eventually(
      async () => {
        // A client of its own per attempt: what the first client's pool and monitor made of
        // the stand-in going away is not what is tested here. An upsert: an attempt applied
        // whose answer was lost must not fail every later one as a duplicate key.
        const fresh = new MongoClient(`${url}/fill?directConnection=true`, {
          serverSelectionTimeoutMS: 1000,
          retryWrites: false,
        });
        try {
          await fresh
            .db('fill')
            .collection<{ _id: number; pad: string }>('docs')
            .updateOne({ _id: 100_000 }, { $set: { pad: 'after' } }, { upsert: true });
          return true;
        } catch (err) {
          lastError = (err as Error).message;
          return false;
        } finally {
          await fresh.close().catch(() => undefined);
        }
      },
      // Each restart starts a process: under a CI run's load that took long enough for a 30 s
      // wait to run out once (it takes about a second on a quiet machine).
      { timeoutMs: 60_000, what: 'the stand-in writing again' },
    ).catch((err: Error) => {
      // What the launcher and the stand-in said, for the next one to read.
      throw new Error(
        `${err.message}; the last write said: ${lastError}; its stderr ends with:\n${stderr.slice(-3000)}`,
      );
    });
    expect(stderr).toContain('started again');
    await client.close();
    const reader = new MongoClient(`${url}/fill?directConnection=true`, {
      serverSelectionTimeoutMS: 5000,
    });
    const kept = await reader
      .db('fill')
      .collection<{ _id: number; pad: string }>('docs')
      .find({ _id: { $in: acknowledged } }, { projection: { _id: 1 } })
      .toArray();
    expect(kept.map((d) => d._id).sort((a, b) => a - b)).toEqual(acknowledged);
    await reader.close();
    // Room for its own wait and the child's start on a busy machine. The retries while the disk
    // is full are capped at 1 s here: on a loaded machine filling it takes long enough for the
    // default doubling to reach 30 s, which is the whole of the wait below.
  }, 180_000);
});
