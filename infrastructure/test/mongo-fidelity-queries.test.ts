import { Decimal128, MongoClient, MongoServerError, type Db } from 'mongodb';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';

/**
 * Reads as MongoDB answers them (issue 25): $lookup with join keys and a pipeline (item 3),
 * Decimal128 comparisons and sorting (item 4), the positional projection and sorting on array
 * fields (item 5). Runs against MONGO_URL when it is set.
 */

let mongo: TestMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  mongo = await createTestMongo('fidelity-queries');
  client = await MongoClient.connect(mongo.url);
  db = client.db();
});

afterAll(async () => {
  await client?.close();
  await mongo?.cleanup();
});

interface Doc {
  _id: number | string;
  [k: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('$lookup with localField/foreignField and a pipeline', () => {
  it('applies the equality match and then the pipeline', async () => {
    await db.collection<Doc>('customers').insertMany([
      { _id: 1, name: 'ann' },
      { _id: 2, name: 'bob' },
    ]);
    await db.collection<Doc>('orders').insertMany([
      { _id: 10, customer: 1, status: 'open', total: 5 },
      { _id: 11, customer: 1, status: 'closed', total: 7 },
      { _id: 12, customer: 2, status: 'open', total: 9 },
      { _id: 13, customer: 1, status: 'open', total: 3 },
    ]);
    const result = await db
      .collection<Doc>('customers')
      .aggregate([
        {
          $lookup: {
            from: 'orders',
            localField: '_id',
            foreignField: 'customer',
            let: { who: '$name' },
            pipeline: [
              { $match: { status: 'open' } },
              { $sort: { total: 1 } },
              { $project: { _id: 1, by: '$$who' } },
            ],
            as: 'open',
          },
        },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(result).toEqual([
      {
        _id: 1,
        name: 'ann',
        open: [
          { _id: 13, by: 'ann' },
          { _id: 10, by: 'ann' },
        ],
      },
      { _id: 2, name: 'bob', open: [{ _id: 12, by: 'bob' }] },
    ]);
  });
});

describe('Decimal128 compares by value with every numeric type', () => {
  beforeAll(async () => {
    await db.collection<Doc>('amounts').insertMany([
      { _id: 1, v: Decimal128.fromString('10') },
      { _id: 2, v: Decimal128.fromString('2') },
      { _id: 3, v: 5.5 },
      { _id: 4, v: 7 },
      { _id: 5, v: Decimal128.fromString('5.25') },
      { _id: 6, v: 'ten' },
    ]);
  });

  const ids = (docs: Array<{ _id?: unknown }>) => docs.map((d) => d._id);

  it('$gt / $lt / $gte with int, double and decimal operands', async () => {
    const c = db.collection<Doc>('amounts');
    expect(
      ids(
        await c
          .find({ v: { $gt: 5 } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([1, 3, 4, 5]);
    expect(
      ids(
        await c
          .find({ v: { $lt: Decimal128.fromString('5.5') } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([2, 5]);
    expect(
      ids(
        await c
          .find({ v: { $gte: 5.25 } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([1, 3, 4, 5]);
    expect(await c.countDocuments({ v: Decimal128.fromString('7.0') })).toBe(1);
    expect(await c.countDocuments({ v: { $in: [10, 2.0] } })).toBe(2);
  });

  it('sorts numerically across types, numbers before strings', async () => {
    const c = db.collection<Doc>('amounts');
    expect(ids(await c.find().sort({ v: 1 }).toArray())).toEqual([2, 5, 3, 4, 1, 6]);
    expect(ids(await c.find().sort({ v: -1 }).toArray())).toEqual([6, 1, 4, 3, 5, 2]);
    const agg = await c.aggregate([{ $sort: { v: -1 } }, { $limit: 2 }]).toArray();
    expect(ids(agg)).toEqual([6, 1]);
  });

  it('$sum over ints and decimals is a decimal', async () => {
    const [r] = await db
      .collection<Doc>('amounts')
      .aggregate([
        { $match: { _id: { $in: [1, 4, 5] } } },
        { $group: { _id: null, s: { $sum: '$v' } } },
      ])
      .toArray();
    expect(r.s).toEqual(Decimal128.fromString('22.25'));
  });
});

describe('Decimal128 in aggregation expressions', () => {
  it('$max / $min order by value and $toDecimal converts to a decimal', async () => {
    const amounts = db.collection<Doc>('amounts');
    const [r] = await amounts
      .aggregate([
        { $match: { _id: { $in: [1, 2, 3, 4, 5] } } },
        { $group: { _id: null, hi: { $max: '$v' }, lo: { $min: '$v' } } },
      ])
      .toArray();
    expect(r.hi).toEqual(Decimal128.fromString('10'));
    expect(r.lo).toEqual(Decimal128.fromString('2'));
    const [c] = await amounts
      .aggregate([{ $match: { _id: 4 } }, { $project: { d: { $toDecimal: '$v' } } }])
      .toArray();
    expect(c.d).toEqual(Decimal128.fromString('7'));
  });
});

describe('arrays', () => {
  beforeAll(async () => {
    await db.collection<Doc>('products').insertMany([
      {
        _id: 1,
        scores: [1, 10],
        reviews: [
          { by: 'a', stars: 2 },
          { by: 'b', stars: 5 },
          { by: 'c', stars: 5 },
        ],
      },
      { _id: 2, scores: [5], reviews: [{ by: 'd', stars: 5 }] },
      { _id: 3, scores: [3, 4], reviews: [{ by: 'e', stars: 1 }] },
    ]);
  });

  it("'reviews.$' projects the first element the query matched", async () => {
    const c = db.collection<Doc>('products');
    const docs = await c
      .find({ 'reviews.stars': 5 }, { projection: { 'reviews.$': 1 } })
      .sort({ _id: 1 })
      .toArray();
    expect(docs).toEqual([
      { _id: 1, reviews: [{ by: 'b', stars: 5 }] },
      { _id: 2, reviews: [{ by: 'd', stars: 5 }] },
    ]);
    const one = await c.findOne(
      { reviews: { $elemMatch: { stars: 5, by: 'c' } } },
      { projection: { 'reviews.$': 1 } },
    );
    expect(one).toEqual({ _id: 1, reviews: [{ by: 'c', stars: 5 }] });
  });

  it('a positional projection without a condition on the array is refused (51246)', async () => {
    const err = await db
      .collection<Doc>('products')
      .find({ _id: 1 }, { projection: { 'reviews.$': 1 } })
      .toArray()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(51246);
  });

  it('an ascending sort uses the smallest element, a descending sort the largest', async () => {
    const c = db.collection<Doc>('products');
    const order = async (dir: 1 | -1) =>
      (
        await c
          .find({}, { projection: { _id: 1 } })
          .sort({ scores: dir })
          .toArray()
      ).map((d) => d._id);
    expect(await order(1)).toEqual([1, 3, 2]);
    expect(await order(-1)).toEqual([1, 2, 3]);
  });
});
