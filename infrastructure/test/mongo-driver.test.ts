import net from 'node:net';
import { BSON, Decimal128, Long, MongoClient, MongoServerError, ObjectId, type Db } from 'mongodb';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';

let standIn: MongoStandIn;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  standIn = await startMongoStandIn();
  client = await MongoClient.connect(`${standIn.url}/driver_test`);
  db = client.db();
});

afterAll(async () => {
  await client?.close();
  await standIn?.stop();
});

describe('CRUD through the official driver', () => {
  it('inserts, finds, updates, replaces and deletes', async () => {
    const c = db.collection('crud');
    const { insertedId } = await c.insertOne({ name: 'lamp', price: 1999, tags: ['home'] });
    expect(insertedId).toBeInstanceOf(ObjectId);
    await c.insertMany([
      { name: 'desk', price: 15000 },
      { name: 'chair', price: 4999 },
    ]);
    expect(await c.findOne({ _id: insertedId })).toEqual({
      _id: insertedId,
      name: 'lamp',
      price: 1999,
      tags: ['home'],
    });

    const upd = await c.updateOne({ name: 'desk' }, { $set: { price: 14000 } });
    expect(upd).toMatchObject({ matchedCount: 1, modifiedCount: 1 });
    const same = await c.updateOne({ name: 'desk' }, { $set: { price: 14000 } });
    expect(same).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
    const many = await c.updateMany({ price: { $lt: 10000 } }, { $inc: { price: 1 } });
    expect(many).toMatchObject({ matchedCount: 2, modifiedCount: 2 });

    const rep = await c.replaceOne({ name: 'chair' }, { name: 'stool', price: 100 });
    expect(rep.modifiedCount).toBe(1);
    const stool = await c.findOne({ name: 'stool' });
    expect(stool).toEqual({ _id: expect.any(ObjectId), name: 'stool', price: 100 });

    expect((await c.deleteOne({ name: 'stool' })).deletedCount).toBe(1);
    expect((await c.deleteMany({})).deletedCount).toBe(2);
    expect(await c.countDocuments()).toBe(0);
  });

  it('refuses to change _id and reports it as a write error', async () => {
    const c = db.collection('immutable');
    await c.insertOne({ _id: 1 as never, v: 1 });
    await expect(c.updateOne({ _id: 1 as never }, { $set: { _id: 2 } })).rejects.toMatchObject({
      code: 66,
    });
    expect(await c.findOne({ _id: 1 as never })).toEqual({ _id: 1, v: 1 });
  });

  it('upserts with the filter equality fields and $setOnInsert, only on insert', async () => {
    const c = db.collection('upserts');
    const first = await c.updateOne(
      { sku: 'A-1', warehouse: { $eq: 'north' } },
      { $inc: { qty: 5 }, $setOnInsert: { createdBy: 'seed' } },
      { upsert: true },
    );
    expect(first.upsertedCount).toBe(1);
    const second = await c.updateOne(
      { sku: 'A-1', warehouse: 'north' },
      { $inc: { qty: 5 }, $setOnInsert: { createdBy: 'other' } },
      { upsert: true },
    );
    expect(second).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    const doc = await c.findOne({ sku: 'A-1' }, { projection: { _id: 0 } });
    expect(doc).toEqual({ sku: 'A-1', warehouse: 'north', qty: 10, createdBy: 'seed' });
  });
});

describe('update operators', () => {
  it('$set $inc $push $pull $addToSet $unset with their MongoDB semantics', async () => {
    const c = db.collection<{
      n: number;
      tags: string[];
      gone?: boolean;
      nested: object;
      list?: number[];
    }>('ops');
    const { insertedId: _id } = await c.insertOne({
      n: 1,
      tags: ['a'],
      gone: true,
      nested: { x: 1 },
    });
    await c.updateOne(
      { _id },
      { $set: { 'nested.y': 2 }, $inc: { n: 2 }, $push: { tags: 'b' }, $unset: { gone: '' } },
    );
    await c.updateOne({ _id }, { $addToSet: { tags: 'a' } });
    await c.updateOne({ _id }, { $addToSet: { tags: { $each: ['c', 'b'] } } });
    await c.updateOne({ _id }, { $pull: { tags: 'a' } });
    await c.updateOne({ _id }, { $push: { list: { $each: [3, 1, 2], $sort: 1 } } });
    expect(await c.findOne({ _id })).toEqual({
      _id,
      n: 3,
      tags: ['b', 'c'],
      nested: { x: 1, y: 2 },
      list: [1, 2, 3],
    });
  });

  it('$pull with a condition, positional $ and arrayFilters', async () => {
    const c = db.collection<{ items: Array<{ sku: string; qty: number }> }>('arrays');
    const { insertedId: _id } = await c.insertOne({
      items: [
        { sku: 'a', qty: 1 },
        { sku: 'b', qty: 5 },
        { sku: 'c', qty: 9 },
      ],
    });
    await c.updateOne({ _id, 'items.sku': 'b' }, { $set: { 'items.$.qty': 6 } });
    await c.updateOne(
      { _id },
      { $inc: { 'items.$[big].qty': 100 } },
      { arrayFilters: [{ 'big.qty': { $gte: 6 } }] },
    );
    await c.updateOne({ _id }, { $pull: { items: { qty: { $lt: 2 } } } });
    expect((await c.findOne({ _id }))?.items).toEqual([
      { sku: 'b', qty: 106 },
      { sku: 'c', qty: 109 },
    ]);
  });

  it('supports pipeline-style updates', async () => {
    const c = db.collection('pipeline_updates');
    const { insertedId: _id } = await c.insertOne({ a: 2, b: 3 });
    await c.updateOne({ _id }, [{ $set: { sum: { $add: ['$a', '$b'] } } }]);
    expect(await c.findOne({ _id })).toEqual({ _id, a: 2, b: 3, sum: 5 });
  });
});

describe('query operators, projection, sort, skip and limit', () => {
  const docs = [
    {
      _id: 1,
      name: 'Red Shirt',
      price: 10,
      tags: ['red', 'cotton'],
      stock: 0,
      sizes: [{ s: 'M', n: 2 }],
    },
    { _id: 2, name: 'Blue Shirt', price: 20, tags: ['blue'], stock: 5, sizes: [{ s: 'L', n: 0 }] },
    { _id: 3, name: 'red hat', price: 30, tags: ['red'], sizes: [] },
    { _id: 4, name: 'Green Scarf', price: 40, tags: [], stock: 2, sizes: [{ s: 'M', n: 7 }] },
  ];
  beforeAll(async () => {
    await db.collection('q').insertMany(docs as never[]);
  });
  const ids = async (filter: object): Promise<unknown[]> =>
    (await db.collection('q').find(filter).sort({ _id: 1 }).toArray()).map((d) => d._id);

  it.each([
    [{ price: { $gt: 10, $lte: 30 } }, [2, 3]],
    [{ price: { $gte: 30 } }, [3, 4]],
    [{ price: { $lt: 20 } }, [1]],
    [{ price: { $ne: 20 } }, [1, 3, 4]],
    [{ _id: { $in: [1, 4, 9] } }, [1, 4]],
    [{ _id: { $nin: [1, 4] } }, [2, 3]],
    [{ stock: { $exists: false } }, [3]],
    [{ tags: 'red' }, [1, 3]],
    [{ name: { $regex: '^red', $options: 'i' } }, [1, 3]],
    [{ name: /shirt/ }, []],
    [{ name: /Shirt$/ }, [1, 2]],
    [{ $or: [{ price: 10 }, { tags: 'blue' }] }, [1, 2]],
    [{ $and: [{ tags: 'red' }, { price: { $gt: 10 } }] }, [3]],
    [{ sizes: { $elemMatch: { s: 'M', n: { $gt: 5 } } } }, [4]],
    [{ tags: { $size: 0 } }, [4]],
  ])('%j matches %j', async (filter, expected) => {
    expect(await ids(filter)).toEqual(expected);
  });

  it('projects, sorts, skips and limits', async () => {
    const c = db.collection('q');
    const page = await c
      .find({}, { projection: { name: 1, price: 1, _id: 0 } })
      .sort({ price: -1 })
      .skip(1)
      .limit(2)
      .toArray();
    expect(page).toEqual([
      { name: 'red hat', price: 30 },
      { name: 'Blue Shirt', price: 20 },
    ]);
    const excl = await c.findOne({ _id: 1 as never }, { projection: { sizes: 0, tags: 0 } });
    expect(excl).toEqual({ _id: 1, name: 'Red Shirt', price: 10, stock: 0 });
  });

  it('counts, estimates and distincts', async () => {
    const c = db.collection('q');
    expect(await c.countDocuments({ price: { $gte: 20 } })).toBe(3);
    expect(await c.countDocuments({}, { skip: 1, limit: 2 })).toBe(2);
    expect(await c.estimatedDocumentCount()).toBe(4);
    expect((await c.distinct('tags')).sort()).toEqual(['blue', 'cotton', 'red']);
    expect(await c.distinct('price', { tags: 'red' })).toEqual([10, 30]);
  });
});

describe('cursors', () => {
  it('walks a large result across getMore batches and kills cursors', async () => {
    const c = db.collection('many');
    await c.insertMany(Array.from({ length: 1050 }, (_, i) => ({ i })));
    const seen: number[] = [];
    for await (const doc of c.find({}, { batchSize: 100 }).sort({ i: 1 }))
      seen.push(doc.i as number);
    expect(seen).toEqual(Array.from({ length: 1050 }, (_, i) => i));

    const cursor = c.find({}).batchSize(10);
    await cursor.next();
    const id = cursor.id;
    expect(id && id.toNumber()).toBeGreaterThan(0);
    await cursor.close();
    await expect(db.command({ getMore: id as Long, collection: 'many' })).rejects.toMatchObject({
      code: 43,
    });
  });

  it('paginates aggregate results too', async () => {
    const out = await db
      .collection('many')
      .aggregate([{ $match: { i: { $lt: 300 } } }], { batchSize: 50 })
      .toArray();
    expect(out).toHaveLength(300);
  });
});

describe('unique indexes', () => {
  it('rejects duplicates with the real E11000 error shape', async () => {
    const c = db.collection('users');
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertOne({ email: 'ann@example.com' });
    const err = (await c
      .insertOne({ email: 'ann@example.com' })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err.code).toBe(11000);
    expect(err.message).toBe(
      'E11000 duplicate key error collection: driver_test.users index: email_1 dup key: { email: "ann@example.com" }',
    );
    expect(err.keyPattern).toEqual({ email: 1 });
    expect(err.keyValue).toEqual({ email: 'ann@example.com' });
    expect(await c.countDocuments()).toBe(1);
  });

  it('enforces unique on updates, ordered and unordered bulk inserts', async () => {
    const c = db.collection('users');
    await c.insertOne({ email: 'bob@example.com' });
    await expect(
      c.updateOne({ email: 'bob@example.com' }, { $set: { email: 'ann@example.com' } }),
    ).rejects.toMatchObject({ code: 11000 });
    const ordered = await c
      .insertMany([{ email: 'c@x' }, { email: 'c@x' }, { email: 'd@x' }])
      .catch((e: unknown) => e);
    expect(ordered).toMatchObject({ code: 11000, result: { insertedCount: 1 } });
    expect(await c.countDocuments({ email: 'd@x' })).toBe(0);
    const unordered = await c
      .insertMany([{ email: 'e@x' }, { email: 'e@x' }, { email: 'f@x' }], { ordered: false })
      .catch((e: unknown) => e);
    expect(unordered).toMatchObject({ code: 11000 });
    expect(await c.countDocuments({ email: 'f@x' })).toBe(1);
  });

  it('enforces compound unique indexes on the combination only', async () => {
    const c = db.collection('reviews');
    await c.createIndex({ productId: 1, userId: 1 }, { unique: true, name: 'one_review_per_user' });
    await c.insertMany([
      { productId: 'p1', userId: 'u1' },
      { productId: 'p1', userId: 'u2' },
      { productId: 'p2', userId: 'u1' },
    ]);
    const err = (await c
      .insertOne({ productId: 'p1', userId: 'u1' })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(err.code).toBe(11000);
    expect(err.message).toContain(
      'index: one_review_per_user dup key: { productId: "p1", userId: "u1" }',
    );
    expect(err.keyValue).toEqual({ productId: 'p1', userId: 'u1' });
  });

  it('treats a missing field as null unless the index is sparse or partial', async () => {
    const c = db.collection('optional');
    await c.createIndex({ code: 1 }, { unique: true, sparse: true });
    await c.createIndex(
      { ref: 1 },
      { unique: true, partialFilterExpression: { ref: { $type: 'string' } } },
    );
    await c.insertMany([{ a: 1 }, { a: 2 }]);
    await expect(c.insertOne({ code: 'x', ref: 'r' })).resolves.toBeDefined();
    await expect(c.insertOne({ code: 'x' })).rejects.toMatchObject({ code: 11000 });
    const strict = db.collection('strict');
    await strict.createIndex({ code: 1 }, { unique: true });
    await strict.insertOne({ a: 1 });
    await expect(strict.insertOne({ a: 2 })).rejects.toMatchObject({
      code: 11000,
      keyValue: { code: null },
    });
  });

  it('refuses to build a unique index over existing duplicates', async () => {
    const c = db.collection('dupdata');
    await c.insertMany([{ k: 1 }, { k: 1 }]);
    await expect(c.createIndex({ k: 1 }, { unique: true })).rejects.toMatchObject({ code: 11000 });
    expect((await c.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_']);
  });

  it('lists and drops indexes', async () => {
    const c = db.collection('idx');
    await c.createIndex({ a: 1 });
    await c.createIndex({ b: -1, c: 1 }, { unique: true });
    expect(await c.createIndex({ a: 1 })).toBe('a_1'); // idempotent
    const listed = await c.listIndexes().toArray();
    expect(listed.map((i) => [i.name, i.key, i.unique ?? false])).toEqual([
      ['_id_', { _id: 1 }, false],
      ['a_1', { a: 1 }, false],
      ['b_-1_c_1', { b: -1, c: 1 }, true],
    ]);
    await c.dropIndex('a_1');
    await expect(c.dropIndex('nope')).rejects.toMatchObject({ code: 27 });
    expect((await c.indexes()).map((i) => i.name)).toEqual(['_id_', 'b_-1_c_1']);
  });

  it('answers an equality on the first field of a compound index from the index (its prefix), however the rest is compared', async () => {
    const c = db.collection('prefix');
    await c.createIndex({ sentAt: 1, due: 1 });
    const sent = new Date('2026-01-01T00:00:00Z');
    // An outbox: most rows sent, a few waiting (sentAt null or not yet set).
    await c.insertMany(
      Array.from({ length: 2000 }, (_, i) =>
        i < 10 ? { i, due: i } : i < 15 ? { i, due: i, sentAt: null } : { i, due: i, sentAt: sent },
      ),
    );
    const coll = standIn.engine.collection('driver_test', 'prefix');
    const examined = async (run: () => Promise<unknown>) => {
      const before = coll?.docsExamined ?? 0;
      const result = await run();
      return { result, examined: (coll?.docsExamined ?? 0) - before };
    };
    const waiting = await examined(() =>
      c.find({ sentAt: null, due: { $lte: 11 } }, { sort: { i: 1 } }).toArray(),
    );
    expect((waiting.result as Array<{ i: number }>).map((d) => d.i)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    expect(waiting.examined).toBe(15);
    const plan = await c.find({ sentAt: null, due: { $gte: 0 } }).explain('executionStats');
    expect(plan.queryPlanner.winningPlan.inputStage).toEqual({
      stage: 'IXSCAN',
      indexName: 'sentAt_1_due_1',
    });
    expect(plan.executionStats.totalDocsExamined).toBe(15);
    // Kept in step with writes: a row marked sent, a row deleted.
    await c.updateOne({ i: 3 }, { $set: { sentAt: sent } });
    await c.deleteOne({ i: 12 });
    const after = await examined(() =>
      c.findOneAndUpdate(
        { sentAt: null, due: { $lte: 100 } },
        { $set: { claimed: true } },
        { sort: { due: 1 } },
      ),
    );
    expect(after.result).toMatchObject({ i: 0 });
    expect(after.examined).toBe(13);
    // The same value of the other type is another key; the whole filter still decides.
    expect(await c.countDocuments({ sentAt: sent, due: { $lt: 20 } })).toBe(6);
  });

  it('reads a compound index by its first field only where its keys compare as the query does (collations)', async () => {
    const plain = db.collection('prefix_plain');
    await plain.createIndex({ name: 1, n: 1 });
    const folded = db.collection('prefix_folded');
    await folded.createIndex({ name: 1, n: 1 }, { collation: { locale: 'en', strength: 2 } });
    for (const c of [plain, folded]) {
      await c.insertMany([
        { name: 'apple', n: 1 },
        { name: 'Apple', n: 2 },
        { name: 'pear', n: 3 },
      ]);
    }
    const caseless = { locale: 'en', strength: 2 };
    const names = async (c: typeof plain, collation?: typeof caseless) =>
      (
        await c.find({ name: 'APPLE', n: { $gte: 0 } }, { sort: { n: 1 }, collation }).toArray()
      ).map((d) => d.n);
    // The index's keys are exact: a caseless query must not read them, or it finds nothing.
    expect(await names(plain, caseless)).toEqual([1, 2]);
    // An index with a collation keeps no exact keys by its first field: the query scans.
    expect(await names(folded, caseless)).toEqual([1, 2]);
    // Without a collation the exact keys answer, and hold no 'APPLE'.
    expect(await names(plain)).toEqual([]);
    const exact = await plain.find({ name: 'apple', n: { $gte: 0 } }).explain('executionStats');
    expect(exact.executionStats.totalDocsExamined).toBe(1);
  });

  it('answers unique-field lookups from the index, not by scanning', async () => {
    const c = db.collection('lookup');
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertMany(Array.from({ length: 2000 }, (_, i) => ({ email: `u${i}@x`, i })));
    const coll = standIn.engine.collection('driver_test', 'lookup');
    const before = coll?.docsExamined ?? 0;
    expect(await c.findOne({ email: 'u1500@x' })).toMatchObject({ i: 1500 });
    expect((coll?.docsExamined ?? 0) - before).toBe(1);
    const plan = await c.find({ email: 'u7@x' }).explain('executionStats');
    expect(plan.queryPlanner.winningPlan.inputStage).toEqual({
      stage: 'IXSCAN',
      indexName: 'email_1',
    });
    expect(plan.executionStats.totalDocsExamined).toBe(1);
    const scan = await c.find({ i: 7 }).explain('executionStats');
    expect(scan.queryPlanner.winningPlan.stage).toBe('COLLSCAN');
    expect(scan.executionStats.totalDocsExamined).toBe(2000);
  });
});

describe('findOneAndUpdate / findOneAndDelete', () => {
  it('50 concurrent conditional decrements on stock 10: exactly 10 succeed', async () => {
    const c = db.collection('stock');
    const { insertedId: _id } = await c.insertOne({ stock: 10 });
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        c.findOneAndUpdate(
          { _id, stock: { $gte: 1 } },
          { $inc: { stock: -1 } },
          { returnDocument: 'after' },
        ),
      ),
    );
    const won = results.filter((r) => r !== null);
    expect(won).toHaveLength(10);
    expect(new Set(won.map((r) => r?.stock))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect((await c.findOne({ _id }))?.stock).toBe(0);
  });

  it('returns before/after, sorts, upserts and removes', async () => {
    const c = db.collection('fam');
    await c.insertMany([
      { q: 'jobs', p: 2 },
      { q: 'jobs', p: 1 },
    ]);
    const before = await c.findOneAndUpdate(
      { q: 'jobs' },
      { $set: { taken: true } },
      { sort: { p: 1 }, returnDocument: 'before' },
    );
    expect(before).toMatchObject({ p: 1 });
    expect(before).not.toHaveProperty('taken');
    const up = await c.findOneAndUpdate(
      { q: 'new' },
      { $set: { p: 9 } },
      { upsert: true, returnDocument: 'after', projection: { _id: 0 } },
    );
    expect(up).toEqual({ q: 'new', p: 9 });
    const removed = await c.findOneAndDelete({ q: 'jobs' }, { sort: { p: -1 } });
    expect(removed).toMatchObject({ p: 2 });
    expect(await c.countDocuments({ q: 'jobs' })).toBe(1);
    expect(await c.findOneAndUpdate({ q: 'none' }, { $set: { p: 1 } })).toBeNull();
  });
});

describe('BSON types', () => {
  it('round-trips ObjectId, Date, Decimal128, Long, nested arrays and binary', async () => {
    const c = db.collection('types');
    const doc = {
      _id: new ObjectId(),
      ref: new ObjectId(),
      at: new Date('2026-01-02T03:04:05.678Z'),
      price: Decimal128.fromString('19.99'),
      big: Long.fromString('9007199254740993'),
      nested: { list: [1, 'two', { three: [3] }] },
      bin: new BSON.Binary(Buffer.from([1, 2, 3])),
      nil: null,
      flag: false,
      ratio: 0.25,
    };
    await c.insertOne(doc);
    const back = await c.findOne({ _id: doc._id }, { promoteLongs: false });
    expect(back?._id.equals(doc._id)).toBe(true);
    expect((back?.ref as ObjectId).toHexString()).toBe(doc.ref.toHexString());
    expect((back?.at as Date).toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect((back?.price as Decimal128).toString()).toBe('19.99');
    expect(String(back?.big)).toBe('9007199254740993');
    expect(back?.nested).toEqual(doc.nested);
    expect(Buffer.from((back?.bin as BSON.Binary).buffer)).toEqual(Buffer.from([1, 2, 3]));
    expect([back?.nil, back?.flag, back?.ratio]).toEqual([null, false, 0.25]);
    expect(await c.countDocuments({ ref: new ObjectId(doc.ref.toHexString()) })).toBe(1);
    expect(
      await c.countDocuments({ at: { $gte: new Date('2026-01-01'), $lt: new Date('2026-01-03') } }),
    ).toBe(1);
  });
});

describe('aggregation', () => {
  beforeAll(async () => {
    await db.collection('orders').insertMany([
      { _id: 1, user: 'u1', total: 10, status: 'paid' },
      { _id: 2, user: 'u1', total: 5, status: 'paid' },
      { _id: 3, user: 'u2', total: 7, status: 'new' },
    ] as never[]);
    await db.collection('people').insertMany([
      { _id: 'u1', name: 'Ann' },
      { _id: 'u2', name: 'Bob' },
    ] as never[]);
  });

  it('$match $group $sort $count $lookup $project', async () => {
    const totals = await db
      .collection('orders')
      .aggregate([
        { $match: { status: 'paid' } },
        { $group: { _id: '$user', sum: { $sum: '$total' }, n: { $sum: 1 } } },
        { $sort: { sum: -1 } },
      ])
      .toArray();
    expect(totals).toEqual([{ _id: 'u1', sum: 15, n: 2 }]);
    const counted = await db
      .collection('orders')
      .aggregate([{ $match: { total: { $gt: 5 } } }, { $count: 'n' }])
      .toArray();
    expect(counted).toEqual([{ n: 2 }]);
    const joined = await db
      .collection('orders')
      .aggregate([
        { $match: { _id: 3 } },
        { $lookup: { from: 'people', localField: 'user', foreignField: '_id', as: 'who' } },
        { $project: { _id: 0, name: { $first: '$who.name' } } },
      ])
      .toArray();
    expect(joined).toEqual([{ name: 'Bob' }]);
  });

  it('does not let a pipeline alter stored documents', async () => {
    await db
      .collection('people')
      .updateOne({ _id: 'u1' as never }, { $set: { address: { city: 'Oslo' } } });
    await db
      .collection('orders')
      .aggregate([
        { $lookup: { from: 'people', localField: 'user', foreignField: '_id', as: 'who' } },
        { $unwind: '$who' },
        { $set: { 'who.address.city': 'changed' } },
      ])
      .toArray();
    expect(await db.collection('people').findOne({ _id: 'u1' as never })).toEqual({
      _id: 'u1',
      name: 'Ann',
      address: { city: 'Oslo' },
    });
    await db
      .collection('orders')
      .aggregate([{ $addFields: { 'extra.x': 1, total: 0 } }])
      .toArray();
    expect(await db.collection('orders').findOne({ _id: 1 as never })).toEqual({
      _id: 1,
      user: 'u1',
      total: 10,
      status: 'paid',
    });
  });

  it('refuses change streams clearly', async () => {
    await expect(
      db
        .collection('orders')
        .aggregate([{ $changeStream: {} }])
        .toArray(),
    ).rejects.toMatchObject({ code: 20, message: expect.stringContaining('change streams') });
  });

  it('writes $out into a collection of the same database', async () => {
    const source = await db.collection('orders').find().sort({ _id: 1 }).toArray();
    await db
      .collection('orders')
      .aggregate([{ $out: 'orders_copy' }])
      .toArray();
    expect(await db.collection('orders_copy').find().sort({ _id: 1 }).toArray()).toEqual(source);
  });
});

describe('text and regex search', () => {
  it('$text over a text index, with textScore ordering', async () => {
    const c = db.collection('products');
    await c.createIndex({ name: 'text', description: 'text' });
    await c.insertMany([
      { name: 'Walnut desk', description: 'Solid walnut, two drawers' },
      { name: 'Oak chair', description: 'Pairs with the oak desk' },
      { name: 'Lamp', description: 'Brass' },
    ]);
    const hits = await c
      .find(
        { $text: { $search: 'walnut desk' } },
        { projection: { _id: 0, name: 1, score: { $meta: 'textScore' } } },
      )
      .sort({ score: { $meta: 'textScore' } })
      .toArray();
    expect(hits.map((h) => h.name)).toEqual(['Walnut desk', 'Oak chair']);
    expect(hits[0].score).toBeGreaterThan(hits[1].score);
    expect(await c.countDocuments({ $text: { $search: 'desk -oak' } })).toBe(1);
    expect(await c.countDocuments({ $text: { $search: '"two drawers"' } })).toBe(1);
    await expect(
      db
        .collection('q')
        .find({ $text: { $search: 'x' } })
        .toArray(),
    ).rejects.toMatchObject({ code: 27 });
  });
});

describe('collections and databases', () => {
  it('create, listCollections, rename, drop, listDatabases, dropDatabase', async () => {
    const other = client.db('driver_test_admin');
    await other.createCollection('a');
    await expect(other.createCollection('a')).rejects.toMatchObject({
      codeName: 'NamespaceExists',
    });
    await other.collection('b').insertOne({ x: 1 });
    expect((await other.listCollections().toArray()).map((c) => c.name).sort()).toEqual(['a', 'b']);
    expect(await other.listCollections({ name: 'b' }, { nameOnly: true }).toArray()).toEqual([
      { name: 'b', type: 'collection' },
    ]);
    await other.renameCollection('b', 'c');
    expect(await other.collection('c').countDocuments()).toBe(1);
    expect(await other.collection('a').drop()).toBe(true);
    const dbs = await client.db('admin').admin().listDatabases();
    expect(dbs.databases.map((d) => d.name)).toContain('driver_test_admin');
    await other.dropDatabase();
    const after = await client.db('admin').admin().listDatabases();
    expect(after.databases.map((d) => d.name)).not.toContain('driver_test_admin');
  });
});

describe('protocol and errors', () => {
  it('answers an unknown command with CommandNotFound (59) naming it', async () => {
    const err = (await db.command({ frobnicate: 1 }).catch((e: unknown) => e)) as MongoServerError;
    expect(err.code).toBe(59);
    expect(err.codeName).toBe('CommandNotFound');
    expect(err.message).toContain("'frobnicate'");
    expect(await db.command({ ping: 1 })).toEqual({ ok: 1 });
  });

  it('serves buildInfo, hello, getParameter, serverStatus and dbStats', async () => {
    const admin = client.db('admin');
    expect((await admin.command({ buildInfo: 1 })).version).toBe('7.0.0');
    expect(await admin.command({ hello: 1 })).toMatchObject({
      isWritablePrimary: true,
      maxWireVersion: 21,
    });
    expect(await admin.command({ getParameter: 1, featureCompatibilityVersion: 1 })).toMatchObject({
      featureCompatibilityVersion: { version: '7.0' },
    });
    expect((await admin.command({ serverStatus: 1 })).connections.current).toBeGreaterThan(0);
    expect((await db.command({ dbStats: 1 })).collections).toBeGreaterThan(0);
  });

  it('speaks the legacy OP_QUERY handshake with an OP_REPLY', async () => {
    const query = BSON.serialize({ isMaster: 1 });
    const ns = Buffer.from('admin.$cmd\0');
    const msg = Buffer.alloc(16 + 4 + ns.length + 8 + query.length);
    msg.writeInt32LE(msg.length, 0);
    msg.writeInt32LE(7, 4);
    msg.writeInt32LE(2004, 12);
    ns.copy(msg, 20);
    msg.writeInt32LE(-1, 20 + ns.length + 4);
    Buffer.from(query).copy(msg, 20 + ns.length + 8);
    const reply = await rawExchange(msg);
    expect(reply.readInt32LE(8)).toBe(7); // responseTo
    expect(reply.readInt32LE(12)).toBe(1); // OP_REPLY
    expect(reply.readInt32LE(32)).toBe(1); // numberReturned
    const doc = BSON.deserialize(reply.subarray(36));
    expect(doc).toMatchObject({ ismaster: true, ok: 1 });
  });

  it('drops a connection sending garbage and keeps serving others', async () => {
    const garbage = Buffer.alloc(32, 0xff);
    garbage.writeInt32LE(32, 0);
    garbage.writeInt32LE(9999, 12);
    await expect(rawExchange(garbage)).rejects.toThrow(/closed/);
    expect(await db.command({ ping: 1 })).toEqual({ ok: 1 });
  });
});

function rawExchange(msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(standIn.port, '127.0.0.1', () => socket.write(msg));
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length >= 4 && data.length >= data.readInt32LE(0)) {
        socket.end();
        resolve(data);
      }
    });
    socket.on('close', () => reject(new Error('connection closed without a reply')));
    socket.on('error', reject);
  });
}
