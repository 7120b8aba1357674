import {
  BSON,
  MongoClient,
  type Collection as DriverCollection,
  type Db,
  type IndexDescription,
} from 'mongodb';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';
import { Index, type Collection } from '../src/mongo/collection';

/**
 * An update by operators can only change the top-level fields its operators name. The stand-in
 * moves a document's keys only in the indexes that read one of them, and compares only them to
 * tell a change from a no-op. Whatever the update, every index must hold exactly what a rebuild
 * from the stored documents holds, and the modified count must say whether the stored bytes
 * changed.
 */

let standIn: MongoStandIn;
let client: MongoClient;
let db: Db;
let docs: DriverCollection;
let stored: Collection;

const INDEXES: IndexDescription[] = [
  { key: { status: 1, available: 1 }, name: 'status_available' },
  { key: { sku: 1 }, name: 'sku', unique: true },
  { key: { 'meta.tag': 1 }, name: 'meta_tag' },
  { key: { tags: 1 }, name: 'tags' },
  { key: { a: 1, 'meta.rank': -1 }, name: 'a_rank' },
  { key: { s: 1 }, name: 's_sparse', sparse: true },
  { key: { x: 1 }, name: 'x_partial', partialFilterExpression: { flag: true } },
];

/** A small deterministic generator, so a failure replays. */
function random(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!,
  };
}

const TAGS = ['red', 'green', 'blue', 'big'];

function seedDocs(rnd: ReturnType<typeof random>, ids: number[]) {
  return ids.map((i) => ({
    _id: i as never,
    status: rnd.pick(['active', 'draft']),
    available: rnd.int(5),
    sku: `sku-${i}`,
    meta: { tag: rnd.pick(TAGS), rank: rnd.int(3) },
    tags: [rnd.pick(TAGS), rnd.pick(TAGS)],
    a: rnd.int(3),
    ...(i % 3 === 0 ? { s: rnd.int(2) } : {}),
    x: rnd.int(4),
    flag: i % 2 === 0,
    note: 'n',
    counter: 0,
  }));
}

/**
 * Operators on indexed fields, dotted paths into them, fields no index reads, renames across
 * the two, the partial index's filter field, arrays by position and by all elements; many of
 * them now and then leave a document as it was.
 */
function randomUpdates(rnd: ReturnType<typeof random>): Array<() => Record<string, unknown>> {
  return [
    () => ({ $inc: { available: rnd.int(3) - 1, counter: 1 } }),
    () => ({ $inc: { counter: 1 }, $set: { note: `n${rnd.int(9)}` } }),
    () => ({ $set: { status: rnd.pick(['active', 'draft', 'gone']) } }),
    () => ({ $set: { 'meta.tag': rnd.pick(TAGS) } }),
    () => ({ $set: { 'meta.rank': rnd.int(3) } }),
    () => ({ $set: { meta: { tag: rnd.pick(TAGS) } } }),
    () => ({ $push: { tags: rnd.pick(TAGS) } }),
    () => ({ $pull: { tags: rnd.pick(TAGS) } }),
    () => ({ $addToSet: { tags: rnd.pick(TAGS) } }),
    () => ({ $set: { 'tags.$[]': rnd.pick(TAGS) } }),
    () => ({ $set: { 'tags.0': rnd.pick(TAGS) } }),
    () => ({ $unset: { s: '' } }),
    () => ({ $set: { s: rnd.int(2) } }),
    () => ({ $set: { flag: rnd.int(2) === 0 } }),
    () => ({ $mul: { x: 2 } }),
    () => ({ $min: { a: rnd.int(3) }, $max: { counter: rnd.int(50) } }),
    () => ({ $rename: { note: 's' } }),
    () => ({ $rename: { s: 'note' } }),
    () => ({ $rename: { x: 'spare' } }),
    () => ({ $rename: { spare: 'x' } }),
    () => ({ $currentDate: { touchedAt: true } }),
    () => ({ $set: { note: 'n' } }),
    () => ({ $unset: { never: '' } }),
    () => ({ $mul: { x: 1 } }),
  ];
}

/** Each index's entries, as a rebuild from the stored documents would hold them. */
function rebuilt(coll: Collection) {
  const out = new Map<string, Map<string, string[]>>();
  for (const index of coll.indexes.values()) {
    const fresh = new Index(index.spec);
    for (const [id, doc] of coll.docs) fresh.add(id, fresh.keysOf(doc));
    out.set(index.name, entriesOf(fresh));
  }
  return out;
}

function entriesOf(index: Index): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, ids] of index.entries) if (ids.size > 0) out.set(key, [...ids].sort());
  for (const [key, ids] of index.leading ?? []) {
    if (ids.size > 0) out.set(`leading:${key}`, [...ids].sort());
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function held(coll: Collection) {
  const out = new Map<string, Map<string, string[]>>();
  for (const index of coll.indexes.values()) out.set(index.name, entriesOf(index));
  return out;
}

beforeAll(async () => {
  standIn = await startMongoStandIn();
  client = await MongoClient.connect(`${standIn.url}/index_upkeep_test`);
  db = client.db();
  docs = db.collection('docs');
  await docs.createIndexes(INDEXES);
  stored = standIn.engine.collection('index_upkeep_test', 'docs')!;
});

afterAll(async () => {
  await client?.close();
  await standIn?.stop();
});

describe('index upkeep on updates by operators', () => {
  it('keeps every index equal to a rebuild through random updates, in and out of transactions', async () => {
    const rnd = random(20261206);
    const ids = Array.from({ length: 24 }, (_, i) => i);
    await docs.insertMany(seedDocs(rnd, ids));
    const updates = randomUpdates(rnd);
    // A unique field set to a value of its own (never on many documents at once).
    let skus = 0;
    const uniqueUpdates = [...updates, () => ({ $set: { sku: `sku-new-${++skus}` } })];
    let applied = 0;
    for (let round = 0; round < 40; round++) {
      const inTransaction = round % 4 === 3;
      const session = inTransaction ? client.startSession() : undefined;
      session?.startTransaction();
      for (let step = 0; step < 12; step++) {
        const filter = { _id: rnd.pick(ids) as never };
        const update = rnd.pick(step % 3 === 2 ? updates : uniqueUpdates)();
        const options = session ? { session } : {};
        if (step % 3 === 0) await docs.findOneAndUpdate(filter, update, options);
        else if (step % 3 === 1) await docs.updateOne(filter, update, options);
        else await docs.updateMany({ a: rnd.int(3) }, update, options);
        applied++;
      }
      if (session) {
        // Half of them roll back: the indexes return to the committed documents.
        if (round % 8 === 3) await session.abortTransaction();
        else await session.commitTransaction();
        await session.endSession();
      }
      expect(held(stored)).toEqual(rebuilt(stored));
    }
    expect(applied).toBe(480);
  });

  it('computes no keys for an update that names no indexed field', async () => {
    await docs.insertOne({ _id: 'quiet' as never, status: 'active', available: 3, sku: 'q', n: 0 });
    const keysOf = jest.spyOn(Index.prototype, 'keysOf');
    try {
      await docs.updateOne({ _id: 'quiet' as never }, { $inc: { n: 1 }, $set: { m: 'x' } });
      expect(keysOf).not.toHaveBeenCalled();
      // One named field read by one index: only that index computes keys, for both versions.
      await docs.updateOne({ _id: 'quiet' as never }, { $inc: { available: -1 } });
      expect(new Set(keysOf.mock.contexts.map((i) => (i as Index).name))).toEqual(
        new Set(['status_available']),
      );
    } finally {
      keysOf.mockRestore();
    }
    expect(await docs.findOne({ status: 'active', available: 2, _id: 'quiet' as never })).toEqual(
      expect.objectContaining({ n: 1, m: 'x' }),
    );
    expect(held(stored)).toEqual(rebuilt(stored));
  });

  it('still refuses a duplicate on a named unique field, and never on an untouched one', async () => {
    await docs.insertMany([
      { _id: 'u1' as never, sku: 'dup-1', n: 0 },
      { _id: 'u2' as never, sku: 'dup-2', n: 0 },
    ]);
    await expect(
      docs.updateOne({ _id: 'u2' as never }, { $set: { sku: 'dup-1' } }),
    ).rejects.toMatchObject({ code: 11000 });
    await expect(
      docs.updateOne({ _id: 'u2' as never }, { $rename: { n: 'sku' } }),
    ).resolves.toMatchObject({ modifiedCount: 1 });
    await expect(docs.updateOne({ _id: 'u1' as never }, { $inc: { n: 1 } })).resolves.toMatchObject(
      { modifiedCount: 1 },
    );
    expect(await docs.findOne({ sku: 'dup-1' })).toMatchObject({ _id: 'u1', n: 1 });
    expect(held(stored)).toEqual(rebuilt(stored));
  });
});

describe('no-op detection on updates by operators', () => {
  it('counts an update as modified exactly when it changed the document', async () => {
    const rnd = random(61202026);
    const ids = Array.from({ length: 8 }, (_, i) => i);
    const seeded = seedDocs(rnd, ids);
    // The twin gets each update with one more field moved on, so it always stores the result:
    // what the update did, judged without the code under test.
    const plain = db.collection('plain');
    const twin = db.collection('twin');
    await plain.insertMany(seeded.map((d) => ({ ...d })));
    await twin.insertMany(seeded.map((d) => ({ ...d })));
    const updates = randomUpdates(rnd);
    const exact = { promoteValues: false, promoteLongs: false, promoteBuffers: false };
    const bytes = async (coll: typeof plain, id: number) => {
      const raw = (await coll.findOne({ _id: id as never }, { raw: true })) as unknown as Buffer;
      const doc = BSON.deserialize(raw, exact);
      delete doc.forced;
      return Buffer.from(BSON.serialize(doc));
    };
    const seen = { modified: 0, unchanged: 0 };
    for (let step = 0; step < 400; step++) {
      const id = rnd.pick(ids);
      const update = rnd.pick(updates)();
      // The clock moves between the two collections' updates.
      if ('$currentDate' in update) continue;
      const before = await bytes(plain, id);
      const res = await plain.updateOne({ _id: id as never }, update);
      const $inc = { ...((update.$inc as object | undefined) ?? {}), forced: 1 };
      await twin.updateOne({ _id: id as never }, { ...update, $inc });
      const done = await bytes(twin, id);
      expect(await bytes(plain, id)).toEqual(done);
      const changed = !before.equals(done);
      expect(res.modifiedCount).toBe(changed ? 1 : 0);
      seen[changed ? 'modified' : 'unchanged']++;
    }
    // Both answers were exercised.
    expect(seen.modified).toBeGreaterThan(50);
    expect(seen.unchanged).toBeGreaterThan(50);
  });
});

describe('fields named __proto__, and collated keys that stay', () => {
  it('sets a path through __proto__ as a field, as MongoDB does, never on Object.prototype', async () => {
    const odd = db.collection('odd');
    await odd.insertOne({ _id: 'p' as never, x: 1 });
    const res = await odd.updateOne(
      { _id: 'p' as never },
      { $set: { '__proto__.polluted': 'yes', 'constructor.name': 'c' } },
    );
    expect(res.modifiedCount).toBe(1);
    // The stand-in runs in this process: nothing leaked onto every object.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    const raw = (await odd.findOne({ _id: 'p' as never }, { raw: true })) as unknown as Buffer;
    const doc = BSON.deserialize(raw);
    expect(Object.keys(doc)).toEqual(['_id', 'x', '__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(doc, '__proto__')?.value).toEqual({ polluted: 'yes' });
  });

  it('keeps a field named __proto__ and its index keys through an update of another field', async () => {
    const odd = db.collection('odd_indexed');
    // JSON.parse makes `__proto__` an own field, as a literal would not.
    await odd.createIndex(JSON.parse('{"__proto__": 1}') as never, { name: 'proto' });
    await odd.insertOne(JSON.parse('{"_id": "q", "__proto__": 7, "x": 1}') as never);
    await odd.updateOne({ _id: 'q' as never }, { $set: { x: 2 } });
    const coll = standIn.engine.collection('index_upkeep_test', 'odd_indexed')!;
    const kept = coll.docs.get([...coll.docs.keys()][0]!)!;
    expect(Object.getOwnPropertyDescriptor(kept, '__proto__')?.value).toBe(7);
    expect(held(coll)).toEqual(rebuilt(coll));
  });

  it('still refuses a string equal under a unique index collation after an update kept its class', async () => {
    const named = db.collection('collated');
    await named.createIndex(
      { name: 1 },
      { name: 'name_ci', unique: true, collation: { locale: 'en', strength: 2 } },
    );
    await named.insertOne({ _id: 'c1' as never, name: 'abc' });
    await named.updateOne({ _id: 'c1' as never }, { $set: { name: 'ABC' } });
    await expect(named.insertOne({ _id: 'c2' as never, name: 'abc' })).rejects.toMatchObject({
      code: 11000,
    });
    const coll = standIn.engine.collection('index_upkeep_test', 'collated')!;
    expect(held(coll)).toEqual(rebuilt(coll));
  });
});
