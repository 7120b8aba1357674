import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, MongoServerError, type Db } from 'mongodb';
import { startMongoStandIn } from '@ecom/infrastructure/mongo';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';

/**
 * What the stand-in used to refuse (issue 25, items 5 and 6): $out and $merge into the same
 * database, command-level `let`, collection validators and collMod, views on `viewOn`, and
 * $listLocalSessions, with MongoDB's results and error codes. Runs against MONGO_URL when set.
 */

let mongo: TestMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  mongo = await createTestMongo('fidelity-features');
  client = await MongoClient.connect(mongo.url);
  db = client.db();
  await db.collection<Doc>('sales').insertMany([
    { _id: 1, item: 'pen', qty: 5, price: 2 },
    { _id: 2, item: 'ink', qty: 1, price: 10 },
    { _id: 3, item: 'pen', qty: 3, price: 2 },
  ]);
});

afterAll(async () => {
  await client?.close();
  await mongo?.cleanup();
});

interface Doc {
  _id: number | string;
  [k: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function errorOf(p: Promise<unknown>): Promise<MongoServerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MongoServerError))
    throw new Error(`expected a server error, got ${String(err)}`);
  return err;
}

describe('$out', () => {
  it('writes the results into a collection of the same database, replacing its documents', async () => {
    const target = db.collection<Doc>('totals');
    await target.insertOne({ _id: 'stale', n: 0 });
    await target.createIndex({ n: 1 });
    const cursor = await db
      .collection('sales')
      .aggregate([{ $group: { _id: '$item', n: { $sum: '$qty' } } }, { $out: 'totals' }])
      .toArray();
    expect(cursor).toEqual([]);
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'ink', n: 1 },
      { _id: 'pen', n: 8 },
    ]);
    expect((await target.listIndexes().toArray()).map((i) => i.name).sort()).toEqual([
      '_id_',
      'n_1',
    ]);
  });

  it('changes nothing when the results break a unique index of the target', async () => {
    const target = db.collection<Doc>('unique_items');
    await target.createIndex({ item: 1 }, { unique: true });
    await target.insertOne({ _id: 'kept', item: 'kept' });
    const err = await errorOf(
      db
        .collection('sales')
        .aggregate([{ $project: { item: 1 } }, { $out: 'unique_items' }])
        .toArray(),
    );
    expect(err.code).toBe(11000);
    expect(await target.find().toArray()).toEqual([{ _id: 'kept', item: 'kept' }]);
  });
});

describe('$merge', () => {
  it('merges into matching documents and inserts the others', async () => {
    const target = db.collection<Doc>('stock');
    await target.insertMany([
      { _id: 'pen', qty: 100, shelf: 'A' },
      { _id: 'cap', qty: 7 },
    ]);
    await db
      .collection('sales')
      .aggregate([
        { $group: { _id: '$item', sold: { $sum: '$qty' } } },
        { $merge: { into: 'stock', on: '_id', whenMatched: 'merge', whenNotMatched: 'insert' } },
      ])
      .toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 'cap', qty: 7 },
      { _id: 'ink', sold: 1 },
      { _id: 'pen', qty: 100, shelf: 'A', sold: 8 },
    ]);
  });

  it('runs a whenMatched pipeline with $$new, and refuses `on` fields without a unique index', async () => {
    const target = db.collection<Doc>('stock');
    await db
      .collection('sales')
      .aggregate([
        { $match: { _id: 2 } },
        { $project: { _id: '$item', qty: 1 } },
        {
          $merge: {
            into: 'stock',
            whenMatched: [{ $set: { sold: { $add: ['$sold', '$$new.qty'] } } }],
            whenNotMatched: 'discard',
          },
        },
      ])
      .toArray();
    expect(await target.findOne({ _id: 'ink' })).toEqual({ _id: 'ink', sold: 2 });
    const err = await errorOf(
      db
        .collection('sales')
        .aggregate([{ $merge: { into: 'stock', on: 'item' } }])
        .toArray(),
    );
    expect(err.code).toBe(51183);
  });
});

describe('command-level let', () => {
  it('aggregate, find, update, delete and findAndModify read $$variables', async () => {
    const sales = db.collection<Doc>('sales');
    const agg = await sales
      .aggregate([{ $match: { $expr: { $gte: ['$qty', '$$min'] } } }, { $sort: { _id: 1 } }], {
        let: { min: 3 },
      })
      .toArray();
    expect(agg.map((d) => d._id)).toEqual([1, 3]);
    const found = await sales
      .find({ $expr: { $eq: ['$item', '$$which'] } }, { let: { which: 'ink' } })
      .toArray();
    expect(found.map((d) => d._id)).toEqual([2]);
    const scratch = db.collection<Doc>('let_scratch');
    await scratch.insertMany([
      { _id: 1, n: 1 },
      { _id: 2, n: 2 },
      { _id: 3, n: 3 },
    ]);
    const upd = await scratch.updateMany(
      { $expr: { $gt: ['$n', '$$floor'] } },
      [{ $set: { tag: '$$label' } }],
      { let: { floor: 1, label: 'big' } },
    );
    expect(upd.modifiedCount).toBe(2);
    const fam = await scratch.findOneAndUpdate(
      { $expr: { $eq: ['$n', '$$target'] } },
      { $set: { hit: true } },
      { let: { target: 1 }, returnDocument: 'after' },
    );
    expect(fam).toEqual({ _id: 1, n: 1, hit: true });
    const del = await scratch.deleteMany(
      { $expr: { $eq: ['$tag', '$$label'] } },
      { let: { label: 'big' } },
    );
    expect(del.deletedCount).toBe(2);
  });

  it('an undefined variable is refused (17276)', async () => {
    const err = await errorOf(
      db
        .collection('sales')
        .find({ $expr: { $eq: ['$item', '$$nobody'] } })
        .toArray(),
    );
    expect(err.code).toBe(17276);
  });
});

describe('validators', () => {
  it('refuse inserts and updates that do not match (DocumentValidationFailure, 121)', async () => {
    await db.createCollection('validated', {
      validator: {
        $jsonSchema: {
          bsonType: 'object',
          required: ['name'],
          properties: { price: { bsonType: 'number', minimum: 0 } },
        },
      },
    });
    const c = db.collection<Doc>('validated');
    await c.insertOne({ _id: 1, name: 'pen', price: 2 });
    const bad = await errorOf(c.insertOne({ _id: 2, price: -1 }));
    expect(bad.code).toBe(121);
    expect(bad.errInfo).toMatchObject({ failingDocumentId: 2 });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { price: -5 } }))).code).toBe(121);
    expect((await errorOf(c.replaceOne({ _id: 1 }, { price: 1 }))).code).toBe(121);
    await c.insertOne({ _id: 3, price: -1 }, { bypassDocumentValidation: true });
    expect(await c.countDocuments()).toBe(2);
    expect((await c.findOne({ _id: 1 }))?.price).toBe(2);
  });

  it('collMod adds a validator; moderate leaves already invalid documents updatable; warn lets writes through', async () => {
    const c = db.collection<Doc>('modded');
    await c.insertMany([
      { _id: 1, qty: 1 },
      { _id: 2, qty: -1 },
    ]);
    await db.command({ collMod: 'modded', validator: { qty: { $gte: 0 } } });
    expect((await errorOf(c.insertOne({ _id: 3, qty: -2 }))).code).toBe(121);
    expect((await errorOf(c.updateOne({ _id: 2 }, { $set: { note: 'x' } }))).code).toBe(121);
    await db.command({ collMod: 'modded', validationLevel: 'moderate' });
    await c.updateOne({ _id: 2 }, { $set: { note: 'x' } });
    expect((await errorOf(c.updateOne({ _id: 1 }, { $set: { qty: -1 } }))).code).toBe(121);
    await db.command({ collMod: 'modded', validationAction: 'warn' });
    await c.insertOne({ _id: 4, qty: -4 });
    const [info] = await db.listCollections({ name: 'modded' }, { nameOnly: false }).toArray();
    expect(info.options).toMatchObject({
      validator: { qty: { $gte: 0 } },
      validationLevel: 'moderate',
      validationAction: 'warn',
    });
  });

  it('collMod on a missing collection is NamespaceNotFound (26)', async () => {
    expect((await errorOf(db.command({ collMod: 'nowhere', validator: {} }))).code).toBe(26);
  });
});

describe('views', () => {
  beforeAll(async () => {
    await db.createCollection('pens', {
      viewOn: 'sales',
      pipeline: [{ $match: { item: 'pen' } }, { $project: { qty: 1 } }],
    });
  });

  it('run their pipeline on read and show later writes to the source', async () => {
    const view = db.collection<Doc>('pens');
    expect(await view.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, qty: 5 },
      { _id: 3, qty: 3 },
    ]);
    expect(await view.countDocuments({ qty: { $gt: 3 } })).toBe(1);
    await db.collection<Doc>('sales').insertOne({ _id: 4, item: 'pen', qty: 9, price: 2 });
    expect(await view.distinct('qty')).toEqual([3, 5, 9]);
    const agg = await view
      .aggregate([{ $group: { _id: null, total: { $sum: '$qty' } } }])
      .toArray();
    expect(agg).toEqual([{ _id: null, total: 17 }]);
    await db.collection<Doc>('sales').deleteOne({ _id: 4 });
  });

  it('are listed as views', async () => {
    const [info] = await db.listCollections({ name: 'pens' }).toArray();
    expect(info).toMatchObject({
      name: 'pens',
      type: 'view',
      options: {
        viewOn: 'sales',
        pipeline: [{ $match: { item: 'pen' } }, { $project: { qty: 1 } }],
      },
      info: { readOnly: true },
    });
  });

  it('refuse writes and indexes (CommandNotSupportedOnView, 166)', async () => {
    const view = db.collection<Doc>('pens');
    expect((await errorOf(view.insertOne({ _id: 9, qty: 1 }))).code).toBe(166);
    expect((await errorOf(view.updateOne({}, { $set: { qty: 1 } }))).code).toBe(166);
    expect((await errorOf(view.deleteMany({}))).code).toBe(166);
    expect((await errorOf(view.createIndex({ qty: 1 }))).code).toBe(166);
  });

  it('collMod changes a view’s pipeline', async () => {
    await db.command({ collMod: 'pens', viewOn: 'sales', pipeline: [{ $match: { item: 'ink' } }] });
    expect((await db.collection<Doc>('pens').find().toArray()).map((d) => d._id)).toEqual([2]);
  });
});

describe('$listLocalSessions', () => {
  it('lists the sessions this server has seen', async () => {
    const session = client.startSession();
    try {
      await db.collection<Doc>('sales').findOne({}, { session });
      const sessions = await client
        .db('admin')
        .aggregate([{ $listLocalSessions: { allUsers: true } }])
        .toArray();
      const ids = sessions.map((s) =>
        (s._id as { id: { toString(e: string): string } }).id.toString('hex'),
      );
      expect(ids).toContain(session.id!.id.toString('hex'));
      expect(sessions[0].lastUse).toBeInstanceOf(Date);
    } finally {
      await session.endSession();
    }
  });
});

describe('across a restart of the stand-in (its journal and snapshot)', () => {
  it('keeps views, collations, validators, collMod changes and collection UUIDs', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mongo-fidelity-'));
    const run = async (fn: (d: Db) => Promise<void>) => {
      const standIn = await startMongoStandIn({ dataDir: dir, fsync: false });
      const c = await MongoClient.connect(`${standIn.url}/kept`);
      try {
        await fn(c.db());
      } finally {
        await c.close();
        await standIn.stop();
      }
    };
    const uuidOf = async (d: Db) => {
      const [info] = await d.listCollections({ name: 'people' }, { nameOnly: false }).toArray();
      return (info.info as { uuid: { toString(e: string): string } }).uuid.toString('hex');
    };
    let uuid = '';
    try {
      await run(async (d) => {
        await d.createCollection('people', { collation: { locale: 'en', strength: 2 } });
        uuid = await uuidOf(d);
        await d.collection<Doc>('people').insertOne({ _id: 1, name: 'Ann' });
        await d.collection('people').createIndex({ name: 1 }, { unique: true });
        await d.createCollection('names', {
          viewOn: 'people',
          pipeline: [{ $project: { name: 1 } }],
        });
        await d.command({ collMod: 'people', validator: { name: { $type: 'string' } } });
      });
      await run(async (d) => {
        const people = d.collection<Doc>('people');
        expect(await people.countDocuments({ name: 'ANN' })).toBe(1);
        expect((await errorOf(people.insertOne({ _id: 2, name: 'ann' }))).code).toBe(11000);
        expect((await errorOf(people.insertOne({ _id: 3, name: 7 }))).code).toBe(121);
        expect(await d.collection<Doc>('names').find().toArray()).toEqual([
          { _id: 1, name: 'Ann' },
        ]);
        expect(await uuidOf(d)).toBe(uuid);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
