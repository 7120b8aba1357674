import mongoose, { Schema } from 'mongoose';
import { createEvent } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import {
  createMongoOutbox,
  currentMongoTransaction,
  withMongoTransaction,
  type MongoOutbox,
} from '@ecom/common/mongo';
import { createTestMongo, eventually, FlakyBus, type TestMongo } from '@ecom/test-support';

// withMongoTransaction + the Mongo outbox: a document and its outbox row commit together or
// not at all, and the event is sent only after the commit.

const logger = createLogger('mongo-transaction-test', 'silent');
let db: TestMongo;
let connection: mongoose.Connection;
let bus: FlakyBus;
let outbox: MongoOutbox;
interface Widget {
  name: string;
  n: number;
}
let Widget: mongoose.Model<Widget>;

beforeAll(async () => {
  db = await createTestMongo('mongo_transaction');
  connection = await mongoose.createConnection(db.url, { sanitizeFilter: true }).asPromise();
  Widget = connection.model<Widget>(
    'Widget',
    new Schema<Widget>({ name: { type: String, unique: true }, n: Number }),
  );
  await Widget.init();
});
beforeEach(async () => {
  bus = new FlakyBus();
  outbox = createMongoOutbox({ connection, bus, logger, intervalMs: 60_000 });
  await outbox.init();
  await Widget.deleteMany({});
  await outbox.model.deleteMany({});
});
afterEach(async () => {
  await outbox.stop();
  await bus.close();
});
afterAll(async () => {
  await connection.close();
  await db.cleanup();
});

const widgetEvent = (n: number) => createEvent('test-service', 'widget.created', { n });

it('commits the document and its outbox row together, and sends the event after the commit', async () => {
  const e = widgetEvent(1);
  const result = await withMongoTransaction(connection, async () => {
    await Widget.create([{ name: 'a', n: 1 }]);
    await outbox.publish(e);
    // Nothing is sent, and nothing is visible outside, before the commit.
    expect(bus.received).toEqual([]);
    const outside = await connection.db!.collection('widgets').findOne({ name: 'a' });
    expect(outside).toBeNull();
    return 'done';
  });
  expect(result).toBe('done');
  expect(await Widget.countDocuments({ name: 'a' })).toBe(1);
  expect(bus.received).toEqual([e]);
  // Its sent mark follows within the mark window.
  await eventually(async () => (await outbox.model.findById(e.eventId).lean())?.sentAt);
});

it('an outbox insert that fails leaves neither the document nor the event', async () => {
  const e = widgetEvent(2);
  // A row with the same event id already exists: the insert clashes on _id.
  await outbox.model.create([
    { _id: e.eventId, event: e, createdAt: new Date(), nextAttemptAt: new Date(), attempts: 0 },
  ]);
  await outbox.model.updateOne({ _id: e.eventId }, { $set: { sentAt: new Date() } });
  await expect(
    withMongoTransaction(connection, async () => {
      await Widget.create([{ name: 'b', n: 2 }]);
      await Widget.updateOne({ name: 'b' }, { $inc: { n: 1 } });
      await outbox.publish(e);
    }),
  ).rejects.toMatchObject({ code: 11000 });
  expect(await Widget.countDocuments()).toBe(0);
  expect(await outbox.model.countDocuments()).toBe(1);
  expect(bus.received).toEqual([]);
});

it('a callback that throws after publishing rolls both back and sends nothing', async () => {
  const e = widgetEvent(3);
  await expect(
    withMongoTransaction(connection, async () => {
      await Widget.create([{ name: 'c', n: 3 }]);
      await outbox.publish(e);
      throw new Error('validation failed late');
    }),
  ).rejects.toThrow('validation failed late');
  expect(await Widget.countDocuments()).toBe(0);
  expect(await outbox.model.countDocuments()).toBe(0);
  expect(bus.received).toEqual([]);
});

it('retries the whole callback after a write conflict; only the committed attempt publishes', async () => {
  await Widget.create({ name: 'd', n: 0 });
  const holder = await connection.startSession();
  holder.startTransaction();
  await Widget.updateOne({ name: 'd' }, { $inc: { n: 100 } }, { session: holder });
  let attempts = 0;
  await withMongoTransaction(connection, async () => {
    attempts += 1;
    try {
      await Widget.updateOne({ name: 'd' }, { $inc: { n: 1 } });
      await outbox.publish(widgetEvent(attempts));
    } finally {
      if (holder.inTransaction()) await holder.commitTransaction();
    }
  });
  await holder.endSession();
  expect(attempts).toBe(2);
  expect((await Widget.findOne({ name: 'd' }).lean())?.n).toBe(101);
  expect(await outbox.model.countDocuments()).toBe(1);
  expect(bus.received.map((x) => (x.data as { n: number }).n)).toEqual([2]);
});

it('a nested call joins the outer transaction; the explicit tx argument works too', async () => {
  const e1 = widgetEvent(5);
  const e2 = widgetEvent(6);
  await expect(
    withMongoTransaction(connection, async (tx) => {
      await withMongoTransaction(connection, async (inner) => {
        expect(inner).toBe(tx);
        await Widget.create([{ name: 'e', n: 5 }]);
        await outbox.publish(e1);
      });
      await outbox.publish(e2, tx);
      expect(currentMongoTransaction(connection)).toBe(tx);
      throw new Error('abort all');
    }),
  ).rejects.toThrow('abort all');
  expect(await Widget.countDocuments()).toBe(0);
  expect(await outbox.model.countDocuments()).toBe(0);
  expect(currentMongoTransaction(connection)).toBeUndefined();
  expect(bus.received).toEqual([]);
});

it('a publish outside any transaction still writes and sends at once', async () => {
  const e = widgetEvent(7);
  await outbox.publish(e);
  expect(bus.received).toEqual([e]);
});
