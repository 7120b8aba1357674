import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { BSON } from 'bson';
import { MongoClient, MongoServerError, type ClientSession, type Db } from 'mongodb';
import mongoose, { Schema } from 'mongoose';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';

// Multi-document transactions on the stand-in through the official driver and mongoose:
// read-your-own-writes, invisible to others until commit, discarded on abort, first writer
// wins per document (WriteConflict + TransientTransactionError, retried by withTransaction),
// one journal record per commit.

interface Doc {
  _id: string;
  [k: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let standIn: MongoStandIn;
let client: MongoClient;
let other: MongoClient;
let db: Db;
let otherDb: Db;

beforeAll(async () => {
  standIn = await startMongoStandIn();
  client = await MongoClient.connect(`${standIn.url}/tx`);
  other = await MongoClient.connect(`${standIn.url}/tx`);
  db = client.db();
  otherDb = other.db();
});

afterAll(async () => {
  await client.close();
  await other.close();
  await standIn.stop();
});

let n = 0;
/** A fresh pair of collection names per test. */
function names(): { docs: string; outbox: string } {
  n += 1;
  return { docs: `docs_${n}`, outbox: `outbox_${n}` };
}

async function inSession<T>(fn: (s: ClientSession) => Promise<T>): Promise<T> {
  const session = client.startSession();
  try {
    return await fn(session);
  } finally {
    await session.endSession();
  }
}

describe('MongoDB stand-in transactions (official driver)', () => {
  it('commits a document and its outbox row together; invisible to others until then', async () => {
    const c = names();
    await db.collection<Doc>(c.docs).insertOne({ _id: 'p1', stock: 5 });
    await inSession(async (s) => {
      s.startTransaction();
      await db.collection<Doc>(c.docs).insertOne({ _id: 'p2', stock: 1 }, { session: s });
      await db
        .collection<Doc>(c.docs)
        .updateOne({ _id: 'p1' }, { $inc: { stock: -1 } }, { session: s });
      await db.collection<Doc>(c.outbox).insertOne({ _id: 'evt-1', type: 'x' }, { session: s });

      // Inside: its own writes.
      expect(await db.collection<Doc>(c.docs).findOne({ _id: 'p1' }, { session: s })).toMatchObject(
        { stock: 4 },
      );
      expect(await db.collection<Doc>(c.docs).countDocuments({}, { session: s })).toBe(2);
      // Outside (another client, and this client without the session): the committed state.
      for (const reader of [otherDb, db]) {
        expect(await reader.collection<Doc>(c.docs).findOne({ _id: 'p1' })).toMatchObject({
          stock: 5,
        });
        expect(await reader.collection<Doc>(c.docs).findOne({ _id: 'p2' })).toBeNull();
        expect(await reader.collection<Doc>(c.docs).countDocuments({ stock: { $gte: 0 } })).toBe(1);
        expect(await reader.collection<Doc>(c.outbox).find().toArray()).toEqual([]);
        expect(
          await reader
            .collection<Doc>(c.docs)
            .aggregate([{ $group: { _id: null, s: { $sum: '$stock' } } }])
            .toArray(),
        ).toEqual([{ _id: null, s: 5 }]);
      }
      await s.commitTransaction();
    });
    expect(await otherDb.collection<Doc>(c.docs).find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'p1', stock: 4 },
      { _id: 'p2', stock: 1 },
    ]);
    expect(await otherDb.collection<Doc>(c.outbox).countDocuments()).toBe(1);
  });

  it('discards every write of an aborted transaction (insert, update, delete) and keeps indexes right', async () => {
    const c = names();
    const docs = db.collection<Doc>(c.docs);
    await docs.createIndex({ email: 1 }, { unique: true });
    await docs.insertMany([
      { _id: 'u1', email: 'a@x' },
      { _id: 'u2', email: 'b@x' },
    ]);
    await inSession(async (s) => {
      s.startTransaction();
      await docs.insertOne({ _id: 'u3', email: 'c@x' }, { session: s });
      await docs.updateOne({ _id: 'u1' }, { $set: { email: 'z@x' } }, { session: s });
      await docs.deleteOne({ _id: 'u2' }, { session: s });
      expect(await docs.findOne({ email: 'z@x' }, { session: s })).toMatchObject({ _id: 'u1' });
      // Outside, the unique index still answers with the committed keys.
      expect(await otherDb.collection<Doc>(c.docs).findOne({ email: 'a@x' })).toMatchObject({
        _id: 'u1',
      });
      expect(await otherDb.collection<Doc>(c.docs).findOne({ email: 'z@x' })).toBeNull();
      expect(await otherDb.collection<Doc>(c.docs).findOne({ email: 'b@x' })).toMatchObject({
        _id: 'u2',
      });
      await s.abortTransaction();
    });
    expect(await docs.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'u1', email: 'a@x' },
      { _id: 'u2', email: 'b@x' },
    ]);
    expect(await docs.findOne({ email: 'a@x' })).toMatchObject({ _id: 'u1' });
    expect(await docs.findOne({ email: 'c@x' })).toBeNull();
    // The keys the aborted transaction had taken are free, the restored ones are held again.
    await docs.insertOne({ _id: 'u4', email: 'c@x' });
    await expect(docs.insertOne({ _id: 'u5', email: 'a@x' })).rejects.toMatchObject({
      code: 11000,
    });
  });

  it('a failed statement (duplicate key) aborts the transaction; withTransaction rolls back and rethrows', async () => {
    const c = names();
    await db.collection<Doc>(c.outbox).insertOne({ _id: 'evt-dup' });
    await expect(
      inSession((s) =>
        s.withTransaction(async () => {
          await db.collection<Doc>(c.docs).insertOne({ _id: 'd1' }, { session: s });
          await db.collection<Doc>(c.outbox).insertOne({ _id: 'evt-dup' }, { session: s });
        }),
      ),
    ).rejects.toMatchObject({ code: 11000 });
    expect(await db.collection<Doc>(c.docs).countDocuments()).toBe(0);
    expect(await db.collection<Doc>(c.outbox).countDocuments()).toBe(1);
  });

  it('a second transaction writing the same document gets WriteConflict (112) labelled TransientTransactionError', async () => {
    const c = names();
    const docs = db.collection<Doc>(c.docs);
    await docs.insertOne({ _id: 'x', n: 0 });
    const first = client.startSession();
    const second = client.startSession();
    try {
      first.startTransaction();
      await docs.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: first });
      second.startTransaction();
      const err = await docs
        .updateOne({ _id: 'x' }, { $inc: { n: 10 } }, { session: second })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MongoServerError);
      expect(err).toMatchObject({ code: 112, codeName: 'WriteConflict' });
      expect((err as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
      // The losing transaction is aborted by the server (as mongod does).
      await expect(second.commitTransaction()).rejects.toMatchObject({ code: 251 });
      await first.commitTransaction();
      expect(await docs.findOne({ _id: 'x' })).toEqual({ _id: 'x', n: 1 });
    } finally {
      await first.endSession();
      await second.endSession();
    }
  });

  it('withTransaction retries after a WriteConflict and then commits', async () => {
    const c = names();
    const docs = db.collection<Doc>(c.docs);
    await docs.insertOne({ _id: 'x', n: 0 });
    const holder = client.startSession();
    const retrying = client.startSession();
    try {
      holder.startTransaction();
      await docs.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: holder });
      let attempts = 0;
      await retrying.withTransaction(async () => {
        attempts += 1;
        try {
          await docs.updateOne({ _id: 'x' }, { $inc: { n: 10 } }, { session: retrying });
          await db
            .collection<Doc>(c.outbox)
            .insertOne({ _id: `evt-${attempts}` }, { session: retrying });
        } finally {
          // The holder finishes while the first attempt fails: the retry goes through.
          if (holder.inTransaction()) await holder.commitTransaction();
        }
      });
      expect(attempts).toBe(2);
      expect(await docs.findOne({ _id: 'x' })).toEqual({ _id: 'x', n: 11 });
      // Only the committed attempt's outbox row exists.
      expect(await db.collection<Doc>(c.outbox).find().toArray()).toEqual([{ _id: 'evt-2' }]);
    } finally {
      await holder.endSession();
      await retrying.endSession();
    }
  });

  it('a write outside any transaction never waits or fails: it aborts the transaction holding the document', async () => {
    const c = names();
    const docs = db.collection<Doc>(c.docs);
    await docs.insertOne({ _id: 'x', n: 0 });
    await inSession(async (s) => {
      s.startTransaction();
      await docs.updateOne({ _id: 'x' }, { $inc: { n: 1 } }, { session: s });
      await docs.insertOne({ _id: 'y' }, { session: s });
      await otherDb.collection<Doc>(c.docs).updateOne({ _id: 'x' }, { $inc: { n: 100 } });
      const err = await s.commitTransaction().catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 251 });
      expect((err as MongoServerError).hasErrorLabel('TransientTransactionError')).toBe(true);
    });
    expect(await docs.find().toArray()).toEqual([{ _id: 'x', n: 100 }]);
  });

  it('a unique key taken inside a transaction conflicts with another transaction, not with the committed state', async () => {
    const c = names();
    const docs = db.collection<Doc>(c.docs);
    await docs.createIndex({ email: 1 }, { unique: true });
    const a = client.startSession();
    const b = client.startSession();
    try {
      a.startTransaction();
      await docs.insertOne({ _id: 'a', email: 'same@x' }, { session: a });
      b.startTransaction();
      await expect(
        docs.insertOne({ _id: 'b', email: 'same@x' }, { session: b }),
      ).rejects.toMatchObject({ code: 112 });
      await a.commitTransaction();
      await b.abortTransaction().catch(() => undefined);
      await expect(docs.insertOne({ _id: 'c', email: 'same@x' })).rejects.toMatchObject({
        code: 11000,
      });
    } finally {
      await a.endSession();
      await b.endSession();
    }
  });

  it('refuses commands a transaction cannot run, and aborts it', async () => {
    const c = names();
    await inSession(async (s) => {
      s.startTransaction();
      await db.collection<Doc>(c.docs).insertOne({ _id: 'k' }, { session: s });
      await expect(db.command({ dropDatabase: 1 }, { session: s })).rejects.toMatchObject({
        code: 263,
      });
      await s.abortTransaction().catch(() => undefined);
    });
    expect(await db.collection<Doc>(c.docs).countDocuments()).toBe(0);
  });
});

describe('MongoDB stand-in transactions through mongoose', () => {
  it('connection.transaction() commits both models, and rolls both back when the callback throws', async () => {
    const conn = await mongoose.createConnection(`${standIn.url}/tx_mongoose`).asPromise();
    try {
      const Product = conn.model('Product', new Schema({ name: String, stock: Number }));
      const Outbox = conn.model('Outbox', new Schema({ _id: String, type: String }));
      await Product.init();
      await Outbox.init();
      await conn.transaction(async (session) => {
        const [p] = await Product.create([{ name: 'lamp', stock: 2 }], { session });
        await Outbox.create([{ _id: `created-${String(p._id)}`, type: 'product.created' }], {
          session,
        });
      });
      expect(await Product.countDocuments()).toBe(1);
      expect(await Outbox.countDocuments()).toBe(1);

      await expect(
        conn.transaction(async (session) => {
          await Product.updateOne({ name: 'lamp' }, { $inc: { stock: -1 } }, { session });
          await Product.create([{ name: 'desk', stock: 1 }], { session });
          throw new Error('outbox write failed');
        }),
      ).rejects.toThrow('outbox write failed');
      expect(await Product.find().lean()).toEqual([
        expect.objectContaining({ name: 'lamp', stock: 2 }),
      ]);
    } finally {
      await conn.close();
    }
  });
});

describe('one-member replica set handshake (replicaSet option)', () => {
  it('answers hello as the primary of the set, so ?replicaSet= URLs connect and run transactions', async () => {
    const rs = await startMongoStandIn({ replicaSet: 'rs0' });
    const rsClient = await MongoClient.connect(`${rs.url}/rs?replicaSet=rs0`);
    try {
      const hello = await rsClient.db('admin').command({ hello: 1 });
      expect(hello).toMatchObject({
        setName: 'rs0',
        isWritablePrimary: true,
        secondary: false,
        hosts: [`127.0.0.1:${rs.port}`],
        primary: `127.0.0.1:${rs.port}`,
        logicalSessionTimeoutMinutes: 30,
      });
      const coll = rsClient.db().collection<Doc>('k');
      const session = rsClient.startSession();
      await session.withTransaction(async () => {
        await coll.insertOne({ _id: 'one' }, { session });
        await coll.insertOne({ _id: 'two' }, { session });
      });
      await session.endSession();
      // Retryable writes (txnNumber without autocommit) run as ordinary writes.
      await coll.insertOne({ _id: 'three' });
      expect(await coll.countDocuments()).toBe(3);
    } finally {
      await rsClient.close();
      await rs.stop();
    }
  });
});

describe('transactions and persistence', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mongo-tx-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a committed transaction survives a crash, an open one leaves nothing behind', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'fixtures', 'txn-crash-writer.ts'), dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('WRITTEN')) resolve();
      });
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.once('exit', (code) => reject(new Error(`writer exited ${code}: ${err}`)));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const restarted = await startMongoStandIn({ dataDir: dir });
    const c = await MongoClient.connect(`${restarted.url}/txcrash`);
    try {
      expect(await c.db().collection('orders').find().sort({ _id: 1 }).toArray()).toEqual([
        { _id: 'a', total: 1 },
        { _id: 'seed', state: 'PAID' },
      ]);
      expect(await c.db().collection('outbox').find().toArray()).toEqual([{ _id: 'evt-a' }]);
    } finally {
      await c.close();
      await restarted.stop();
    }
  });

  it('a commit is one journal group: a group cut short by a crash is dropped whole', async () => {
    const first = await startMongoStandIn({ dataDir: dir });
    const c = await MongoClient.connect(`${first.url}/torn`);
    try {
      const session = c.startSession();
      await session.withTransaction(async () => {
        await c.db().collection<Doc>('a').insertOne({ _id: '1' }, { session });
        await c.db().collection<Doc>('b').insertOne({ _id: '2' }, { session });
      });
      await session.endSession();
    } finally {
      await c.close();
      await first.stop();
    }
    // After the clean stop the state is in the snapshot; append a transaction whose second
    // entry never made it to disk.
    const entry = (doc: object): Buffer => Buffer.from(BSON.serialize(doc));
    fs.appendFileSync(
      path.join(dir, 'journal.bson'),
      Buffer.concat([
        entry({ op: 'txn', n: 2 }),
        entry({ op: 'put', db: 'torn', coll: 'a', doc: { _id: '3' } }),
        entry({ op: 'put', db: 'torn', coll: 'b', doc: { _id: '4' } }).subarray(0, 10),
      ]),
    );
    const second = await startMongoStandIn({ dataDir: dir });
    const c2 = await MongoClient.connect(`${second.url}/torn`);
    try {
      expect(await c2.db().collection('a').find().toArray()).toEqual([{ _id: '1' }]);
      expect(await c2.db().collection('b').find().toArray()).toEqual([{ _id: '2' }]);
    } finally {
      await c2.close();
      await second.stop();
    }
  });

  it('an open transaction at a clean stop is not written to the snapshot', async () => {
    const first = await startMongoStandIn({ dataDir: dir });
    const c = await MongoClient.connect(`${first.url}/stop`);
    const session = c.startSession();
    session.startTransaction();
    await c.db().collection<Doc>('a').insertOne({ _id: 'committed' });
    await c.db().collection<Doc>('a').insertOne({ _id: 'open' }, { session });
    await first.stop();
    await c.close().catch(() => undefined);
    const second = await startMongoStandIn({ dataDir: dir });
    const c2 = await MongoClient.connect(`${second.url}/stop`);
    try {
      expect(await c2.db().collection('a').find().toArray()).toEqual([{ _id: 'committed' }]);
    } finally {
      await c2.close();
      await second.stop();
    }
  });
});
