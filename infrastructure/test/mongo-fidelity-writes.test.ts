import { Decimal128, MongoBulkWriteError, MongoClient, MongoServerError, type Db } from 'mongodb';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';

/**
 * Writes as MongoDB answers them (issue 25): a replacement upsert keeps the filter's _id
 * (item 2), Decimal128 arithmetic (item 4), update type errors and path conflicts, `$`-prefixed
 * fields in an _id (item 5), and `sort` on updateOne as a 7.0 server answers it (item 6).
 * Runs against MONGO_URL when it is set.
 */

let mongo: TestMongo;
let client: MongoClient;
let db: Db;

beforeAll(async () => {
  mongo = await createTestMongo('fidelity-writes');
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

async function errorOf(p: Promise<unknown>): Promise<MongoServerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof MongoServerError))
    throw new Error(`expected a server error, got ${String(err)}`);
  return err;
}

describe('a replacement upsert keeps the filter’s _id', () => {
  it('replaceOne', async () => {
    const c = db.collection<Doc>('upserts');
    const r = await c.replaceOne({ _id: 4 }, { x: 1 }, { upsert: true });
    expect(r.upsertedId).toBe(4);
    expect(await c.findOne({ _id: 4 })).toEqual({ _id: 4, x: 1 });
  });

  it('replaceOne takes only the _id of a filter with other fields', async () => {
    const c = db.collection<Doc>('upserts');
    await c.replaceOne({ _id: 6, kind: 'a' }, { y: 2 }, { upsert: true });
    expect(await c.findOne({ _id: 6 })).toEqual({ _id: 6, y: 2 });
  });

  it('findOneAndReplace', async () => {
    const c = db.collection<Doc>('upserts');
    const after = await c.findOneAndReplace(
      { _id: 5 },
      { x: 2 },
      { upsert: true, returnDocument: 'after' },
    );
    expect(after).toEqual({ _id: 5, x: 2 });
  });

  it('bulkWrite replaceOne', async () => {
    const c = db.collection<Doc>('upserts');
    const r = await c.bulkWrite([
      { replaceOne: { filter: { _id: 7 }, replacement: { x: 3 }, upsert: true } },
    ]);
    expect(r.upsertedIds).toEqual({ 0: 7 });
    expect(await c.findOne({ _id: 7 })).toEqual({ _id: 7, x: 3 });
  });
});

describe('Decimal128 arithmetic', () => {
  it('$inc keeps a decimal exact, whatever the amount’s type', async () => {
    const c = db.collection<Doc>('prices');
    await c.insertOne({ _id: 1, p: Decimal128.fromString('10.10') });
    await c.updateOne({ _id: 1 }, { $inc: { p: 1 } });
    expect(String((await c.findOne({ _id: 1 }))?.p)).toBe('11.10');
    await c.updateOne({ _id: 1 }, { $inc: { p: Decimal128.fromString('-0.05') } });
    expect(String((await c.findOne({ _id: 1 }))?.p)).toBe('11.05');
    await c.insertOne({ _id: 2, p: 2 });
    await c.updateOne({ _id: 2 }, { $inc: { p: Decimal128.fromString('0.5') } });
    expect((await c.findOne({ _id: 2 }))?.p).toEqual(Decimal128.fromString('2.5'));
  });
});

describe('update errors', () => {
  beforeAll(async () => {
    await db.collection<Doc>('targets').insertOne({ _id: 1, s: 'text', a: { b: 1 }, n: 5 });
  });

  it('$inc on a string is a TypeMismatch (14)', async () => {
    const err = await errorOf(
      db.collection<Doc>('targets').updateOne({ _id: 1 }, { $inc: { s: 1 } }),
    );
    expect(err.code).toBe(14);
    expect(err.message).toContain('Cannot apply $inc to a value of non-numeric type');
  });

  it('$push on a non-array is a BadValue (2)', async () => {
    const err = await errorOf(
      db.collection<Doc>('targets').updateOne({ _id: 1 }, { $push: { s: 'x' } } as never),
    );
    expect(err.code).toBe(2);
    expect(err.message).toContain("The field 's' must be an array but is of type string");
  });

  it('two operators on one path, or a path and its parent, conflict (40)', async () => {
    const c = db.collection<Doc>('targets');
    const same = await errorOf(c.updateOne({ _id: 1 }, { $set: { n: 1 }, $inc: { n: 1 } }));
    expect(same.code).toBe(40);
    expect(same.message).toContain("Updating the path 'n' would create a conflict at 'n'");
    const nested = await errorOf(c.updateOne({ _id: 1 }, { $set: { a: 1, 'a.b': 2 } }));
    expect(nested.code).toBe(40);
    expect(await c.findOne({ _id: 1 })).toEqual({ _id: 1, s: 'text', a: { b: 1 }, n: 5 });
  });

  it('a failed statement of an unordered bulk write is reported, the others applied', async () => {
    const c = db.collection<Doc>('targets');
    const err = (await c
      .bulkWrite(
        [
          { updateOne: { filter: { _id: 1 }, update: { $inc: { s: 1 } } } },
          { updateOne: { filter: { _id: 1 }, update: { $inc: { n: 1 } } } },
        ],
        { ordered: false },
      )
      .catch((e: unknown) => e)) as MongoBulkWriteError;
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    expect(err.writeErrors).toMatchObject([{ index: 0, code: 14 }]);
    expect((await c.findOne({ _id: 1 }))?.n).toBe(6);
  });
});

describe('_id', () => {
  it('an _id holding a $-prefixed field is refused (DollarPrefixedFieldName, 52)', async () => {
    const err = await errorOf(db.collection<Doc>('ids').insertOne({ _id: { $a: 1 } } as never));
    expect(err.code).toBe(52);
    expect(err.message).toContain("_id fields may not contain '$'-prefixed fields");
    expect(await db.collection<Doc>('ids').countDocuments()).toBe(0);
  });

  it('an array _id is refused (InvalidIdField, 53)', async () => {
    const err = await errorOf(db.collection<Doc>('ids').insertOne({ _id: [1, 2] } as never));
    expect(err.code).toBe(53);
  });
});

describe('sort on updateOne', () => {
  it('is answered as the server version does (7.0: an unknown field, 40415)', async () => {
    const c = db.collection<Doc>('sorted');
    await c.insertMany([
      { _id: 1, rank: 2 },
      { _id: 2, rank: 1 },
    ]);
    const { versionArray } = await db.admin().command({ buildInfo: 1 });
    const update = c.updateOne({}, { $set: { picked: true } }, { sort: { rank: 1 } });
    if ((versionArray as number[])[0] < 8) {
      const err = await errorOf(update);
      expect(err.code).toBe(40415);
      expect(err.message).toContain("BSON field 'update.updates.sort' is an unknown field.");
      expect(await c.countDocuments({ picked: true })).toBe(0);
    } else {
      await update;
      expect(await c.findOne({ picked: true })).toMatchObject({ _id: 2 });
    }
  });
});
