import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Decimal128, MongoClient, ObjectId } from 'mongodb';
import mongoose, { Schema } from 'mongoose';
import { startMongoStandIn } from '@ecom/infrastructure/mongo';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mongo-standin-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function withClient<T>(url: string, fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = await MongoClient.connect(url);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

describe('persistence with a data directory', () => {
  it('keeps its files readable by their owner only, files from older versions included', async () => {
    fs.writeFileSync(path.join(dir, 'journal.bson'), Buffer.alloc(0), { mode: 0o644 });
    fs.chmodSync(dir, 0o755);
    const standIn = await startMongoStandIn({ dataDir: dir });
    try {
      await withClient(`${standIn.url}/shop`, (client) =>
        client.db().collection('users').insertOne({ passwordHash: '$2b$10$secret' }),
      );
      const mode = (file: string) => fs.statSync(path.join(dir, file)).mode & 0o777;
      expect(mode('.')).toBe(0o700);
      expect(mode('journal.bson')).toBe(0o600);
      expect(mode('snapshot.bson')).toBe(0o600);
    } finally {
      await standIn.stop();
    }
  });

  it('keeps documents, updates, deletes, indexes and dropped collections across a restart', async () => {
    const id = new ObjectId();
    const first = await startMongoStandIn({ dataDir: dir });
    await withClient(`${first.url}/shop`, async (client) => {
      const db = client.db();
      await db.collection('items').createIndex({ sku: 1 }, { unique: true });
      await db
        .collection('items')
        .insertMany([
          { _id: id, sku: 'a', price: Decimal128.fromString('9.99'), at: new Date(5) },
          { sku: 'b' },
          { sku: 'c' },
        ]);
      await db.collection('items').updateOne({ sku: 'b' }, { $set: { qty: 3 } });
      await db.collection('items').deleteOne({ sku: 'c' });
      await db.collection('gone').insertOne({ x: 1 });
      await db.collection('gone').drop();
    });
    await first.stop();

    const second = await startMongoStandIn({ dataDir: dir });
    try {
      await withClient(`${second.url}/shop`, async (client) => {
        const items = client.db().collection('items');
        const a = await items.findOne({ _id: id });
        expect(a?.price).toBeInstanceOf(Decimal128);
        expect(String(a?.price)).toBe('9.99');
        expect(a?.at).toEqual(new Date(5));
        expect(await items.findOne({ sku: 'b' }, { projection: { _id: 0 } })).toEqual({
          sku: 'b',
          qty: 3,
        });
        expect(await items.countDocuments()).toBe(2);
        await expect(items.insertOne({ sku: 'a' })).rejects.toMatchObject({ code: 11000 });
        expect((await client.db().listCollections().toArray()).map((c) => c.name)).toEqual([
          'items',
        ]);
      });
    } finally {
      await second.stop();
    }
  });

  it('recovers acknowledged writes after a crash (journal without a clean shutdown)', async () => {
    // A child process writes, then is killed with SIGKILL: no snapshot on stop.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures', 'crash-writer.ts'), dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('WRITTEN')) resolve(out);
      });
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.once('exit', (code) => reject(new Error(`writer exited ${code}: ${err}`)));
    });
    expect(output).toContain('WRITTEN');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Simulate a torn final write too: a partial entry at the journal's tail is ignored.
    fs.appendFileSync(path.join(dir, 'journal.bson'), Buffer.from([0x40, 0, 0, 0, 3]));

    const standIn = await startMongoStandIn({ dataDir: dir });
    try {
      await withClient(`${standIn.url}/crash`, async (client) => {
        const docs = await client
          .db()
          .collection('log')
          .find({}, { projection: { _id: 0 } })
          .sort({ i: 1 })
          .toArray();
        expect(docs).toEqual([
          { i: 1, v: 'one' },
          { i: 2, v: 'two!' },
        ]);
      });
    } finally {
      await standIn.stop();
    }
  });

  it('mongoose app data survives a restart', async () => {
    const schema = new Schema({ email: { type: String, unique: true }, n: Number });
    const first = await startMongoStandIn({ dataDir: dir });
    const c1 = await mongoose.createConnection(`${first.url}/auth`).asPromise();
    const U1 = c1.model('User', schema);
    await U1.init();
    await U1.create({ email: 'keep@x', n: 1 });
    await c1.close();
    await first.stop();

    const second = await startMongoStandIn({ dataDir: dir });
    const c2 = await mongoose.createConnection(`${second.url}/auth`).asPromise();
    try {
      const U2 = c2.model('User', schema);
      await U2.init();
      expect(await U2.findOne({ email: 'keep@x' }).lean()).toMatchObject({ n: 1 });
      await expect(U2.create({ email: 'keep@x' })).rejects.toMatchObject({ code: 11000 });
    } finally {
      await c2.close();
      await second.stop();
    }
  });

  it('runs from the command line and saves its data on SIGTERM', async () => {
    const cli = path.join(__dirname, '..', 'src', 'mongo', 'cli.ts');
    const run = async (): Promise<{ url: string; child: ReturnType<typeof spawn> }> => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', cli, '--port', '0', '--data-dir', dir],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /listening on (mongodb:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`cli exited ${code}`)));
      });
      return { url, child };
    };
    const stopped = (child: ReturnType<typeof spawn>): Promise<number | null> =>
      new Promise((resolve) => child.once('exit', (code) => resolve(code)));

    const first = await run();
    await withClient(`${first.url}/cli`, (c) => c.db().collection('k').insertOne({ v: 42 }));
    const exit1 = stopped(first.child);
    first.child.kill('SIGTERM');
    expect(await exit1).toBe(0);
    expect(fs.statSync(path.join(dir, 'journal.bson')).size).toBe(0); // folded into the snapshot

    const second = await run();
    try {
      const doc = await withClient(`${second.url}/cli`, (c) =>
        c
          .db()
          .collection('k')
          .findOne({}, { projection: { _id: 0 } }),
      );
      expect(doc).toEqual({ v: 42 });
    } finally {
      const exit2 = stopped(second.child);
      second.child.kill('SIGTERM');
      await exit2;
    }
  });

  it('without a data directory nothing is kept', async () => {
    const first = await startMongoStandIn();
    await withClient(`${first.url}/mem`, (client) =>
      client.db().collection('c').insertOne({ x: 1 }),
    );
    await first.stop();
    const second = await startMongoStandIn();
    try {
      await withClient(`${second.url}/mem`, async (client) => {
        expect(await client.db().collection('c').countDocuments()).toBe(0);
      });
    } finally {
      await second.stop();
    }
  });
});

describe('group commit: a write is acknowledged once its journal sync is done', () => {
  type SyncCallback = (err: NodeJS.ErrnoException | null) => void;
  const realFdatasync = fs.fdatasync;

  afterEach(() => jest.restoreAllMocks());

  /** fdatasync through a spy: `hold` keeps a call's callback until released. */
  function spySyncs(hold: (call: number) => boolean) {
    const held: Array<() => void> = [];
    const spy = jest.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, cb: SyncCallback) => {
      const run = () => realFdatasync(fd, cb);
      if (hold(spy.mock.calls.length)) held.push(run);
      else run();
    }) as typeof fs.fdatasync);
    return { spy, release: () => held.splice(0).forEach((run) => run()) };
  }

  it('answers reads while a sync is in flight, and lets the writes made meanwhile share the next one', async () => {
    const syncs = spySyncs((call) => call === 1);
    const standIn = await startMongoStandIn({ dataDir: dir });
    const writer = await MongoClient.connect(`${standIn.url}/shop`, { maxPoolSize: 25 });
    const reader = await MongoClient.connect(`${standIn.url}/shop`);
    try {
      const items = writer.db().collection('items');
      let firstDone = false;
      const first = items.insertOne({ n: 0 }).then(() => (firstDone = true));
      await waitFor(() => syncs.spy.mock.calls.length === 1);
      const rest = Promise.all(Array.from({ length: 20 }, (_, i) => items.insertOne({ n: i + 1 })));
      // The event loop is free: a read answers, and sees every write applied so far.
      const seen = reader.db().collection('items');
      await waitFor(async () => (await seen.countDocuments()) === 21);
      expect(firstDone).toBe(false);
      syncs.release();
      await first;
      await rest;
      // One sync for the first write, one for the twenty that arrived during it.
      expect(syncs.spy).toHaveBeenCalledTimes(2);
    } finally {
      await writer.close();
      await reader.close();
      await standIn.stop();
    }
    const again = await startMongoStandIn({ dataDir: dir });
    try {
      await withClient(`${again.url}/shop`, async (client) => {
        expect(await client.db().collection('items').countDocuments()).toBe(21);
      });
    } finally {
      await again.stop();
    }
  });

  it('with fsync off, acknowledges without syncing', async () => {
    const syncs = spySyncs(() => false);
    const standIn = await startMongoStandIn({ dataDir: dir, fsync: false });
    try {
      await withClient(`${standIn.url}/shop`, async (client) => {
        await client.db().collection('items').insertOne({ n: 1 });
      });
      expect(syncs.spy).not.toHaveBeenCalled();
    } finally {
      await standIn.stop();
    }
  });

  it('stops after a failed sync: that write is never acknowledged, and no later one is', async () => {
    jest.spyOn(fs, 'fdatasync').mockImplementation(((_fd: number, cb: SyncCallback) => {
      setImmediate(() =>
        cb(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })),
      );
    }) as typeof fs.fdatasync);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const fatal: Error[] = [];
    const standIn = await startMongoStandIn({ dataDir: dir, onFatal: (err) => fatal.push(err) });
    const client = await MongoClient.connect(`${standIn.url}/shop`, {
      serverSelectionTimeoutMS: 500,
    });
    try {
      const items = client.db().collection('items');
      await expect(items.insertOne({ n: 1 })).rejects.toThrow();
      expect(fatal.map((e) => e.message)).toEqual(['EIO: i/o error, fdatasync']);
      expect(String(stderr.mock.calls[0]?.[0])).toContain('journal failed');
      // Nothing answers any more, reads included.
      await expect(items.countDocuments()).rejects.toThrow();
    } finally {
      await client.close();
      await standIn.stop();
    }
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
