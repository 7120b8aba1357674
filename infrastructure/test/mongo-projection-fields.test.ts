import { MongoClient, ObjectId, type Db } from 'mongodb';
import { Context } from 'mingo/core';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';

/**
 * Projections that only name top-level fields by 0/1 (the checkout's) are applied directly,
 * and commands without a collation or variables reuse one set of mingo options: both give the
 * answers the general path gives (mingo's $project, its checks), without its per-command cost.
 */

let standIn: MongoStandIn;
let client: MongoClient;
let db: Db;

const DOCS = [
  { _id: 1, a: 1, b: { c: 2 }, z: 3, d: [1, 2], n: null },
  { b: 'x', _id: 2, a: 'late' },
  { _id: 3 },
];

beforeAll(async () => {
  standIn = await startMongoStandIn();
  client = await MongoClient.connect(`${standIn.url}/projection_fields_test`);
  db = client.db();
  await db.collection('docs').insertMany(DOCS.map((d) => ({ ...d })) as never[]);
});

afterAll(async () => {
  await client?.close();
  await standIn?.stop();
});

interface CheckoutProduct {
  _id: ObjectId;
  status: string;
  available: number;
  reserved: number;
  lowStockThreshold: number;
  holds: Array<{ orderId: string; quantity: number }>;
}

const find = (projection: object) =>
  db
    .collection('docs')
    .find({}, { projection, sort: { _id: 1 } })
    .toArray();

describe('projections of top-level fields', () => {
  it('answers as MongoDB does: _id first unless excluded, the rest in the document order', async () => {
    expect(await find({ z: 1, a: 1 })).toEqual([
      { _id: 1, a: 1, z: 3 },
      { _id: 2, a: 'late' },
      { _id: 3 },
    ]);
    expect(await find({ a: true, _id: 0 })).toEqual([{ a: 1 }, { a: 'late' }, {}]);
    expect(await find({ b: 0, d: false })).toEqual([
      { _id: 1, a: 1, z: 3, n: null },
      { _id: 2, a: 'late' },
      { _id: 3 },
    ]);
    expect(await find({ _id: 0 })).toEqual([
      { a: 1, b: { c: 2 }, z: 3, d: [1, 2], n: null },
      { b: 'x', a: 'late' },
      {},
    ]);
    expect(await find({ _id: 1 })).toEqual([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    // Any number but zero includes, as in MongoDB.
    expect(await find({ b: 5, n: -1 })).toEqual([
      { _id: 1, b: { c: 2 }, n: null },
      { _id: 2, b: 'x' },
      { _id: 3 },
    ]);
    expect(await find({})).toEqual(DOCS.map(({ _id, ...rest }) => ({ _id, ...rest })));
  });

  it('gives what the general path gives for every such projection', async () => {
    const fields = ['a', 'b', 'n', 'missing'];
    const values = [0, 1, true, false, 2, -1];
    let compared = 0;
    for (let mask = 1; mask < 1 << fields.length; mask++) {
      for (const value of values) {
        for (const id of [undefined, 0, 1]) {
          const spec: Record<string, unknown> = id === undefined ? {} : { _id: id };
          fields.forEach((f, i) => {
            if (mask & (1 << i)) spec[f] = value;
          });
          // mingo refuses `_id: 1` beside exclusions, which MongoDB allows (below).
          if (id === 1 && !value) continue;
          // A $slice of a field no document has changes no answer but takes the general path.
          const general = await find({ ...spec, absent: { $slice: 1 } });
          expect(await find(spec)).toEqual(general);
          compared++;
        }
      }
    }
    expect(compared).toBe(15 * (4 * 3 + 2 * 2));
  });

  it('keeps _id named beside exclusions, as MongoDB does', async () => {
    expect(await find({ _id: 1, b: 0, d: 0, z: 0 })).toEqual([
      { _id: 1, a: 1, n: null },
      { _id: 2, a: 'late' },
      { _id: 3 },
    ]);
  });

  it('keeps a field named __proto__ as a field of the answer, as MongoDB does', async () => {
    const c = db.collection('proto');
    const doc: Record<string, unknown> = { _id: 1, a: 1 };
    // An own field of that name (a literal would set the object's prototype instead).
    Object.defineProperty(doc, '__proto__', {
      value: { x: 1 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    await c.insertOne(doc as never);
    for (const projection of [{ a: 0 }, { _id: 0 }, JSON.parse('{ "__proto__": 1 }') as object]) {
      const [answer] = await c.find({}, { projection }).toArray();
      expect(Object.getOwnPropertyDescriptor(answer, '__proto__')?.value).toEqual({ x: 1 });
      expect(Object.getPrototypeOf(answer)).toBe(Object.prototype);
    }
  });

  it('still refuses a mix of inclusion and exclusion', async () => {
    await expect(find({ a: 1, b: 0 })).rejects.toMatchObject({ code: 31254 });
    await expect(find({ a: 0, b: 1 })).rejects.toMatchObject({ code: 31253 });
  });
});

describe("a checkout command's mingo options", () => {
  afterEach(() => jest.restoreAllMocks());

  it("copies no operator table for a conditional update's filter, update or answer", async () => {
    const products = db.collection<CheckoutProduct>('products');
    const _id = new ObjectId();
    await products.insertOne({
      _id,
      status: 'active',
      available: 5,
      reserved: 0,
      lowStockThreshold: 1,
      holds: [],
    });
    const copies = jest.spyOn(Context, 'from');
    const held = await products.findOneAndUpdate(
      { _id, status: 'active', available: { $gte: 2 }, 'holds.orderId': { $ne: 'o-1' } },
      { $inc: { available: -2, reserved: 2 }, $push: { holds: { orderId: 'o-1', quantity: 2 } } },
      { returnDocument: 'after', projection: { available: 1, lowStockThreshold: 1 } },
    );
    const sold = await products.updateOne(
      { _id, holds: { $elemMatch: { orderId: 'o-1', quantity: 2 } } },
      { $inc: { reserved: -2 }, $pull: { holds: { orderId: 'o-1' } } },
    );
    expect(held).toEqual({ _id, available: 3, lowStockThreshold: 1 });
    expect(sold.modifiedCount).toBe(1);
    expect(copies).not.toHaveBeenCalled();
  });

  it('reads $$NOW per command, though commands share their mingo options', async () => {
    const c = db.collection('clock');
    // Due 3 s from now: the insert and the first count fit in that on a busy machine.
    await c.insertOne({ _id: 1 as never, at: new Date(Date.now() + 3000) });
    const due = () => c.countDocuments({ $expr: { $lte: ['$at', '$$NOW'] } });
    expect(await due()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 3100));
    expect(await due()).toBe(1);
  });
});
