import { MongoClient, MongoServerError, type CollationOptions, type Db } from 'mongodb';
import mongoose, { Schema, type Connection } from 'mongoose';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';

/**
 * Collation (issue 25, item 1): queries, sorts, distinct, updates, deletes, bulk writes, a
 * collection's default collation, mongoose's schema collation and `.collation()`, and unique
 * indexes with a collation, as MongoDB documents them. Runs against MONGO_URL when it is set.
 */

const CI = { locale: 'en_US', strength: 2 } as const;

let mongo: TestMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  mongo = await createTestMongo('fidelity-collation');
  client = await MongoClient.connect(mongo.url);
  db = client.db();
});

afterAll(async () => {
  await client?.close();
  await mongo?.cleanup();
});

async function errorOf(p: Promise<unknown>): Promise<MongoServerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MongoServerError))
    throw new Error(`expected a server error, got ${String(err)}`);
  return err;
}

describe('queries with a collation', () => {
  beforeAll(async () => {
    await db.collection('pings').insertMany([
      { _id: 1, x: 'ping' },
      { _id: 2, x: 'pong' },
      { _id: 3, x: 'café' },
      { _id: 4, x: 'Cafe' },
    ] as never[]);
  });

  it('finds case-insensitively at strength 2 (and binary without a collation)', async () => {
    const c = db.collection('pings');
    expect(await c.find({ x: 'PING' }, { collation: CI }).toArray()).toEqual([
      { _id: 1, x: 'ping' },
    ]);
    expect(await c.find({ x: 'PING' }).toArray()).toEqual([]);
    expect(await c.countDocuments({ x: { $in: ['PONG', 'PING'] } }, { collation: CI })).toBe(2);
    expect(await c.countDocuments({ x: { $gt: 'PING' } }, { collation: CI })).toBe(1);
  });

  it('ignores diacritics at strength 1 but not at strength 2', async () => {
    const c = db.collection('pings');
    const ids = async (strength: number) =>
      (await c.find({ x: 'cafe' }, { collation: { locale: 'fr', strength } }).toArray()).map(
        (d) => d._id,
      );
    expect(await ids(1)).toEqual([3, 4]);
    expect(await ids(2)).toEqual([4]);
    expect(await ids(3)).toEqual([]);
  });

  it('sorts with the locale and numericOrdering', async () => {
    const c = db.collection('items');
    await c.insertMany([{ n: 'item10' }, { n: 'item9' }, { n: 'item1' }, { n: 'Item2' }]);
    const order = async (collation?: CollationOptions) =>
      (await c.find({}, { collation, sort: { n: 1 }, projection: { _id: 0 } }).toArray()).map(
        (d) => d.n,
      );
    expect(await order()).toEqual(['Item2', 'item1', 'item10', 'item9']);
    expect(await order({ locale: 'en_US', numericOrdering: true })).toEqual([
      'item1',
      'Item2',
      'item9',
      'item10',
    ]);
    const agg = await c
      .aggregate([{ $sort: { n: -1 } }, { $project: { _id: 0, n: 1 } }], {
        collation: { locale: 'en', numericOrdering: true },
      })
      .toArray();
    expect(agg.map((d) => d.n)).toEqual(['item10', 'item9', 'Item2', 'item1']);
  });

  it('returns one distinct value per group of equal strings', async () => {
    const c = db.collection('tags');
    await c.insertMany([{ t: 'red' }, { t: 'RED' }, { t: 'blue' }, { t: 'Red' }]);
    expect(await c.distinct('t', {}, { collation: CI })).toHaveLength(2);
    expect((await c.distinct('t')).sort()).toEqual(['RED', 'Red', 'blue', 'red']);
    expect(await c.distinct('t', { t: 'BLUE' }, { collation: CI })).toEqual(['blue']);
  });

  it('matches and groups with it in an aggregation', async () => {
    const c = db.collection('tags');
    const groups = await c
      .aggregate([{ $match: { t: 'RED' } }, { $group: { _id: '$t', n: { $sum: 1 } } }], {
        collation: CI,
      })
      .toArray();
    expect(groups).toHaveLength(1);
    expect(groups[0].n).toBe(3);
    const [set] = await c
      .aggregate(
        [
          { $match: { t: { $ne: 'blue' } } },
          { $group: { _id: null, all: { $addToSet: '$t' }, top: { $max: '$t' } } },
        ],
        { collation: CI },
      )
      .toArray();
    expect(set.all).toHaveLength(1);
  });
});

describe('writes with a collation', () => {
  it('updates, deletes and finds-and-modifies the documents equal under it', async () => {
    const c = db.collection('users');
    await c.insertMany([
      { _id: 1, name: 'Ann' },
      { _id: 2, name: 'ANN' },
      { _id: 3, name: 'bob' },
    ] as never[]);
    expect(await c.updateMany({ name: 'ann' }, { $set: { seen: true } })).toMatchObject({
      matchedCount: 0,
    });
    expect(
      await c.updateMany({ name: 'ann' }, { $set: { seen: true } }, { collation: CI }),
    ).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    const found = await c.findOneAndUpdate(
      { name: 'BOB' },
      { $set: { seen: true } },
      { collation: CI, returnDocument: 'after' },
    );
    expect(found).toEqual({ _id: 3, name: 'bob', seen: true });
    expect((await c.deleteOne({ name: 'ann' }, { collation: CI })).deletedCount).toBe(1);
    expect((await c.deleteMany({ name: 'ann' }, { collation: CI })).deletedCount).toBe(1);
    expect(await c.countDocuments()).toBe(1);
  });

  it('applies each bulk write operation its own collation', async () => {
    const c = db.collection('bulk');
    await c.insertMany([
      { _id: 1, k: 'a' },
      { _id: 2, k: 'B' },
      { _id: 3, k: 'c' },
    ] as never[]);
    const r = await c.bulkWrite([
      { updateOne: { filter: { k: 'A' }, update: { $set: { v: 1 } }, collation: CI } },
      { updateMany: { filter: { k: 'b' }, update: { $set: { v: 2 } }, collation: CI } },
      { replaceOne: { filter: { k: 'C' }, replacement: { k: 'c', v: 3 }, collation: CI } },
      { deleteOne: { filter: { k: 'B' }, collation: { locale: 'simple' } } },
    ]);
    expect(r).toMatchObject({ matchedCount: 3, modifiedCount: 3, deletedCount: 1 });
    expect(await c.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, k: 'a', v: 1 },
      { _id: 3, k: 'c', v: 3 },
    ]);
  });
});

describe("a collection's default collation", () => {
  it('applies when an operation names none, and { locale: "simple" } overrides it', async () => {
    await db.createCollection('people', { collation: CI });
    const c = db.collection('people');
    await c.insertMany([{ name: 'Zoe' }, { name: 'adam' }, { name: 'Bea' }]);
    expect(await c.countDocuments({ name: 'ZOE' })).toBe(1);
    expect(await c.countDocuments({ name: 'ZOE' }, { collation: { locale: 'simple' } })).toBe(0);
    const sorted = await c.find({}, { sort: { name: 1 }, projection: { _id: 0 } }).toArray();
    expect(sorted.map((d) => d.name)).toEqual(['adam', 'Bea', 'Zoe']);
    const [info] = await db.listCollections({ name: 'people' }, { nameOnly: false }).toArray();
    expect(info.options?.collation).toMatchObject({ locale: 'en_US', strength: 2 });
  });

  it('is the collation of its indexes and of its _id index', async () => {
    const c = db.collection('people');
    await c.createIndex({ name: 1 }, { unique: true });
    const err = await errorOf(c.insertOne({ name: 'ZOE' }));
    expect(err.code).toBe(11000);
    const indexes = await c.listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'name_1')?.collation).toMatchObject({
      locale: 'en_US',
      strength: 2,
    });
    expect(indexes.find((i) => i.name === '_id_')?.collation).toMatchObject({ strength: 2 });
    await c.insertOne({ _id: 'Key' as never, name: 'k1' });
    expect((await errorOf(c.insertOne({ _id: 'KEY' as never, name: 'k2' }))).code).toBe(11000);
  });
});

describe('unique indexes with a collation', () => {
  it('refuse strings equal under it, and list the collation with every option filled in', async () => {
    const c = db.collection('accounts');
    await c.createIndex({ email: 1 }, { unique: true, collation: CI });
    await c.insertOne({ email: 'Ann@x' });
    const err = await errorOf(c.insertOne({ email: 'ann@x' }));
    expect(err.code).toBe(11000);
    await c.insertOne({ email: 'bob@x' });
    expect(
      (await errorOf(c.updateOne({ email: 'bob@x' }, { $set: { email: 'ANN@X' } }))).code,
    ).toBe(11000);
    const index = (await c.listIndexes().toArray()).find((i) => i.name === 'email_1');
    expect(index?.collation).toEqual({
      locale: 'en_US',
      caseLevel: false,
      caseFirst: 'off',
      strength: 2,
      numericOrdering: false,
      alternate: 'non-ignorable',
      maxVariable: 'punct',
      normalization: false,
      backwards: false,
      version: '57.1',
    });
  });

  it('answer a query with that collation from the index, and one without from the documents', async () => {
    const c = db.collection('accounts');
    expect(await c.countDocuments({ email: 'ANN@X' }, { collation: CI })).toBe(1);
    expect(await c.countDocuments({ email: 'ANN@X' })).toBe(0);
    expect(await c.countDocuments({ email: 'Ann@x' })).toBe(1);
  });
});

describe('mongoose', () => {
  let conn: Connection;

  beforeAll(async () => {
    conn = await mongoose.createConnection(mongo.url).asPromise();
  });

  afterAll(async () => {
    await conn?.close();
  });

  it("applies a schema's collation and a query's .collation()", async () => {
    const Tag = conn.model(
      'CollatedTag',
      new Schema({ label: String }, { collation: { locale: 'en', strength: 1 } }),
    );
    await Tag.init();
    await Tag.create([{ label: 'Éclair' }, { label: 'eclair' }, { label: 'tart' }]);
    expect(await Tag.countDocuments({ label: 'ECLAIR' })).toBe(2);
    const Plain = conn.model('PlainTag', new Schema({ label: String }));
    await Plain.create([{ label: 'Tart' }, { label: 'tart' }]);
    expect(await Plain.countDocuments({ label: 'TART' })).toBe(0);
    expect(
      await Plain.find({ label: 'TART' }).collation({ locale: 'en', strength: 2 }),
    ).toHaveLength(2);
  });
});

describe('refusals of what the stand-in cannot compare (stand-in only)', () => {
  let standIn: MongoStandIn;
  let local: MongoClient;

  beforeAll(async () => {
    standIn = await startMongoStandIn();
    local = await MongoClient.connect(`${standIn.url}/refusals`);
  });

  afterAll(async () => {
    await local?.close();
    await standIn?.stop();
  });

  it('answers InvalidOptions (72) naming an option Intl.Collator cannot honour', async () => {
    const c = local.db().collection('x');
    await c.insertOne({ s: 'a' });
    const err = await errorOf(
      c.find({ s: 'a' }, { collation: { locale: 'en', strength: 4 } }).toArray(),
    );
    expect(err.code).toBe(72);
    expect(err.message).toContain('strength 4');
  });

  it('refuses an aggregation operator it would run in binary order under a collation', async () => {
    const c = local.db().collection('x');
    const err = await errorOf(
      c
        .aggregate([{ $project: { u: { $setUnion: [['$s'], ['A']] } } }], { collation: CI })
        .toArray(),
    );
    expect(err.code).toBe(72);
    expect(err.message).toContain('$setUnion');
  });

  it('answers an unknown locale as mongod does (BadValue)', async () => {
    const c = local.db().collection('x');
    const err = await errorOf(c.find({}, { collation: { locale: 'xx_YY' } }).toArray());
    expect(err.code).toBe(2);
    expect(err.message).toContain("Field 'locale' is invalid");
  });
});
