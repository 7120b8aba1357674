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
