import mongoose from 'mongoose';
import { createEvent, type EventEnvelope } from '@ecom/common/bus';
import { createTestMongo, eventually, FlakyBus, type TestMongo } from '@ecom/test-support';
import { createLogger } from '@ecom/common/logging';
import {
  createMongoOutbox,
  type MongoOutbox,
  outboxEventPublisher,
  withMongoTransaction,
} from '@ecom/common/mongo';

const logger = createLogger('outbox-test', 'silent');
let db: TestMongo;
let connection: mongoose.Connection;
let bus: FlakyBus;
let clock: number;
const now = () => new Date(clock);
let collectionNo = 0;
const outboxes: MongoOutbox[] = [];

/** An outbox on a collection of its own (tests stay independent), on the shared test clock. */
async function makeOutbox(
  collection: string,
  extra: {
    connection?: mongoose.Connection;
    intervalMs?: number;
    markWindowMs?: number;
    directSendWaitMs?: number;
  } = {},
): Promise<MongoOutbox> {
  const outbox = createMongoOutbox({
    connection: extra.connection ?? connection,
    collection,
    bus,
    logger,
    intervalMs: extra.intervalMs ?? 60_000,
    directSendGraceMs: 5000,
    retryBaseMs: 1000,
    now,
    ...(extra.markWindowMs !== undefined ? { markWindowMs: extra.markWindowMs } : {}),
    ...(extra.directSendWaitMs !== undefined ? { directSendWaitMs: extra.directSendWaitMs } : {}),
  });
  await outbox.init();
  outboxes.push(outbox);
  return outbox;
}
const nextCollection = () => `outbox_${(collectionNo += 1)}`;
const event = (n: number) => createEvent('test-service', 'widget.created', { n });
const numbers = (events: EventEnvelope[]) => events.map((e) => (e.data as { n: number }).n);

beforeAll(async () => {
  db = await createTestMongo('bus_mongo_outbox');
  // sanitizeFilter as the services use it: the outbox's own operators must still work.
  connection = await mongoose.createConnection(db.url, { sanitizeFilter: true }).asPromise();
});
beforeEach(() => {
  bus = new FlakyBus();
  clock = Date.parse('2026-01-01T00:00:00Z');
});
afterEach(async () => {
  for (const o of outboxes.splice(0)) await o.stop();
  await bus.close();
});
afterAll(async () => {
  await connection.close();
  await db.cleanup();
});

it('publish writes the row and sends it at once; its sent mark follows within the mark window, with the time of sending', async () => {
  const outbox = await makeOutbox(nextCollection());
  const e = event(1);
  await outbox.publish(e);
  const sentAt = now();
  expect(bus.received).toEqual([e]);
  clock += 100; // the mark is written later, still with the time the bus took the event
  const row = await eventually(async () => {
    const r = await outbox.model.findById(e.eventId).lean();
    return r?.sentAt ? r : undefined;
  });
  expect(row).toMatchObject({ event: e, attempts: 0, lastError: null });
  expect(row.sentAt).toEqual(sentAt);
  expect(await outbox.pendingCount()).toBe(0);
  // A sent row is never sent again.
  clock += 60_000;
  expect(await outbox.flush()).toBe(0);
  expect(bus.publishes).toBe(1);
});

it('a mark the database refuses leaves that row unsent, and the log counts only the rows left unmarked', async () => {
  const collection = nextCollection();
  const warnings: Array<Record<string, unknown>> = [];
  const watched = createLogger('outbox-test-marks', 'silent');
  watched.warn = ((message: string, meta?: Record<string, unknown>) => {
    if (message.startsWith('outbox rows sent but not marked')) warnings.push(meta ?? {});
    return watched;
  }) as typeof watched.warn;
  const outbox = createMongoOutbox({
    connection,
    collection,
    bus,
    logger: watched,
    intervalMs: 60_000,
    directSendGraceMs: 5000,
    markWindowMs: 60_000,
    now,
  });
  await outbox.init();
  outboxes.push(outbox);
  const events = [event(1), event(2), event(3)];
  for (const e of events) await outbox.publish(e);
  // From now on the database refuses a sent mark on the second row only.
  await connection.db!.command({
    collMod: collection,
    validator: { $or: [{ sentAt: null }, { 'event.data.n': { $ne: 2 } }] },
    validationLevel: 'strict',
  });
  await outbox.stop(); // writes the waiting marks: one command, three updates, one refused
  const sentAt = async (e: EventEnvelope) =>
    (await outbox.model.findById(e.eventId).lean())?.sentAt ?? null;
  expect(await sentAt(events[0]!)).toEqual(now());
  expect(await sentAt(events[1]!)).toBeNull();
  expect(await sentAt(events[2]!)).toEqual(now());
  expect(warnings).toEqual([expect.objectContaining({ count: 1, of: 3 })]);
});

it("an event's own writes go through the driver: no mongoose document or query per event", async () => {
  const outbox = await makeOutbox(nextCollection());
  const create = jest.spyOn(outbox.model, 'create');
  const insertMany = jest.spyOn(outbox.model, 'insertMany');
  const updateOne = jest.spyOn(outbox.model, 'updateOne');
  // An optional field left undefined, as envelopes without a cause have it.
  const e = { ...event(1), causationId: undefined } as EventEnvelope;
  const bulkWrite = jest.spyOn(outbox.model, 'bulkWrite');
  await outbox.publish(e);
  await outbox.flush(); // writes the sent mark now
  expect(create).not.toHaveBeenCalled();
  expect(insertMany).not.toHaveBeenCalled();
  expect(updateOne).not.toHaveBeenCalled();
  expect(bulkWrite).not.toHaveBeenCalled();
  const row = await connection
    .collection(outbox.model.collection.name)
    .findOne({ _id: e.eventId } as never);
  // The row as mongoose wrote it: every field, and no null for the undefined one.
  expect(Object.keys(row!).sort()).toEqual(
    ['_id', 'attempts', 'createdAt', 'event', 'lastError', 'nextAttemptAt', 'sentAt'].sort(),
  );
  expect(row!.event).not.toHaveProperty('causationId');
  expect(row).toMatchObject({ attempts: 0, lastError: null, sentAt: now() });
});

it('the sent marks of one window share one update command; stop() writes those still waiting', async () => {
  const monitored = await mongoose
    .createConnection(db.url, { sanitizeFilter: true, monitorCommands: true })
    .asPromise();
  const commands: string[] = [];
  monitored.getClient().on('commandStarted', (c) => commands.push(c.commandName));
  try {
    const collection = nextCollection();
    const outbox = await makeOutbox(collection, { connection: monitored, markWindowMs: 2000 });
    const sentAt: Date[] = [];
    for (const n of [1, 2, 3]) {
      await outbox.publish(event(n));
      sentAt.push(now());
      clock += 1000;
    }
    const unmarked = await outbox.model.countDocuments({ sentAt: null });
    const marked = await eventually(async () => {
      const rows = await outbox.model.find().sort({ createdAt: 1 }).lean();
      return rows.every((r) => r.sentAt) ? rows : undefined;
    });
    expect(unmarked).toBe(3);
    expect(marked.map((r) => r.sentAt)).toEqual(sentAt);
    // Three inserts, one update command (three statements) for their marks.
    expect(commands.filter((c) => c === 'insert')).toHaveLength(3);
    expect(commands.filter((c) => c === 'update')).toHaveLength(1);

    // Stopping does not wait for the window: the marks still waiting are written.
    const other = await makeOutbox(nextCollection(), {
      connection: monitored,
      markWindowMs: 60_000,
    });
    const e = event(4);
    await other.publish(e);
    await other.stop();
    expect((await other.model.findById(e.eventId).lean())?.sentAt).toEqual(now());
  } finally {
    await monitored.close();
  }
});

it('a second write of the same event id is refused (no duplicate row), and the caller is told', async () => {
  const outbox = await makeOutbox(nextCollection());
  const e = event(1);
  await outbox.publish(e);
  await expect(outbox.publish(e)).rejects.toThrow(/duplicate key/);
  expect(await outbox.model.countDocuments()).toBe(1);
  // Outside a transaction the send does not wait for the row: the repeat may reach the bus,
  // with the same id, which consumers drop.
  expect(bus.received.map((r) => r.eventId)).toEqual([e.eventId, e.eventId]);
});

it('outside a transaction the event leaves while its row is written, and is marked sent only once both are done', async () => {
  const collection = nextCollection();
  const outbox = await makeOutbox(collection, { markWindowMs: 10 });
  // The bus holds its answer until the test lets it go.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const publish = bus.publish.bind(bus);
  jest.spyOn(bus, 'publish').mockImplementation(async (ev) => {
    await held;
    await publish(ev);
  });
  const e = event(1);
  const published = outbox.publish(e);
  // The row is written while the bus still holds the event: unmarked, and nothing waits for it.
  const row = await eventually(() => outbox.model.findById(e.eventId).lean());
  expect(row?.sentAt).toBeNull();
  expect(bus.publish).toHaveBeenCalledWith(e);
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect((await outbox.model.findById(e.eventId).lean())?.sentAt).toBeNull();
  release();
  await published;
  await eventually(
    async () => (await outbox.model.findById(e.eventId).lean())?.sentAt ?? undefined,
  );

  // A row the database refuses: the caller is told, and the bus had the event all the same
  // (a send that waited for the row would not have sent it).
  await connection.db!.command({
    collMod: collection,
    validator: { 'event.data.n': { $ne: 2 } },
    validationLevel: 'strict',
  });
  const refused = event(2);
  await expect(outbox.publish(refused)).rejects.toThrow(/validation/i);
  expect(bus.received.map((r) => r.eventId)).toEqual([e.eventId, refused.eventId]);
  expect(await outbox.model.findById(refused.eventId).lean()).toBeNull();
});

it('bus down: the rows wait; once it is back the relay sends them later, in order', async () => {
  const outbox = await makeOutbox(nextCollection());
  bus.down = true;
  const written = [1, 2, 3].map(event);
  for (const e of written) {
    await outbox.publish(e); // the caller's write succeeds although the send failed
    clock += 10;
  }
  expect(await outbox.pendingCount()).toBe(3);

  // Fresh rows are left to the direct send for the grace period.
  expect(await outbox.flush()).toBe(0);
  expect(bus.publishes).toBe(3);

  // Due, bus still down: one attempt counted and pushed back, the round stops there.
  clock += 5000;
  expect(await outbox.flush()).toBe(0);
  expect(bus.publishes).toBe(4);
  const failed = await outbox.model.findById(written[0].eventId).lean();
  expect(failed).toMatchObject({ sentAt: null, attempts: 1, lastError: 'broker unreachable' });
  expect(failed!.nextAttemptAt.getTime()).toBe(clock + 1000);

  bus.down = false;
  clock += 1000;
  expect(await outbox.flush()).toBe(3);
  // All three are due again: oldest written first, the retried one included.
  expect(bus.received).toEqual(written);
  expect(await outbox.pendingCount()).toBe(0);
  clock += 60_000;
  expect(await outbox.flush()).toBe(0);
});

it('a bus that hangs does not hold the write: it answers after the wait, and the relay sends the row later', async () => {
  const outbox = await makeOutbox(nextCollection(), { directSendWaitMs: 50 });
  // A broker that takes the connection but never confirms (stopped with SIGSTOP).
  const hanging = jest.spyOn(bus, 'publish').mockImplementation(() => new Promise(() => undefined));
  const inTransaction = event(1);
  const alone = event(2);
  await withMongoTransaction(connection, () => outbox.publish(inTransaction));
  await outbox.publish(alone);
  expect(hanging).toHaveBeenCalledTimes(2);
  expect(await outbox.pendingCount()).toBe(2);
  hanging.mockRestore();
  clock += 5000; // past the grace: the rows are the relay's
  expect(await outbox.flush()).toBe(2);
  expect(numbers(bus.received)).toEqual([1, 2]);
}, 10_000);

it('the relay sends due rows in the order they were written', async () => {
  const outbox = await makeOutbox(nextCollection());
  bus.down = true;
  for (let n = 1; n <= 5; n += 1) {
    await outbox.publish(event(n));
    clock += 10;
  }
  bus.down = false;
  clock += 5000;
  expect(await outbox.flush()).toBe(5);
  expect(numbers(bus.received)).toEqual([1, 2, 3, 4, 5]);
});

it('retries back off exponentially up to the cap', async () => {
  const outbox = createMongoOutbox({
    connection,
    collection: nextCollection(),
    bus,
    logger,
    intervalMs: 60_000,
    directSendGraceMs: 0,
    retryBaseMs: 1000,
    retryMaxMs: 3000,
    now,
  });
  outboxes.push(outbox);
  bus.down = true;
  const e = event(1);
  await outbox.publish(e);
  const delays: number[] = [];
  for (let attempt = 1; attempt <= 4; attempt += 1) {
    expect(await outbox.flush()).toBe(0);
    const row = await outbox.model.findById(e.eventId).lean();
    expect(row!.attempts).toBe(attempt);
    delays.push(row!.nextAttemptAt.getTime() - clock);
    clock = row!.nextAttemptAt.getTime();
  }
  expect(delays).toEqual([1000, 2000, 3000, 3000]);
});

it('two relays (two instances) on one collection send each event once', async () => {
  const collection = nextCollection();
  const otherConnection = await mongoose.createConnection(db.url).asPromise();
  try {
    const a = await makeOutbox(collection);
    const b = await makeOutbox(collection, { connection: otherConnection });
    bus.down = true;
    const written = Array.from({ length: 20 }, (_, n) => event(n));
    for (const [n, e] of written.entries()) await (n % 2 ? a : b).publish(e);
    expect(await a.pendingCount()).toBe(20);
    bus.down = false;
    clock += 5000;
    const before = bus.publishes;
    const [sentA, sentB] = await Promise.all([a.flush(), b.flush()]);
    expect(sentA + sentB).toBe(20);
    expect(bus.publishes - before).toBe(20);
    expect(bus.received.map((e) => e.eventId).sort()).toEqual(written.map((e) => e.eventId).sort());
    expect(await a.pendingCount()).toBe(0);
  } finally {
    await otherConnection.close();
  }
});

it('a row claimed by one relay is not taken by another until its lease ends', async () => {
  const collection = nextCollection();
  const a = await makeOutbox(collection);
  bus.down = true;
  const e = event(1);
  await a.publish(e);
  clock += 5000;
  // Simulate a relay that claimed the row and died mid-send (lease: 30 s by default).
  await a.model.updateOne(
    { _id: e.eventId },
    { $set: { nextAttemptAt: new Date(clock + 30_000) }, $inc: { attempts: 1 } },
  );
  bus.down = false;
  expect(await a.flush()).toBe(0);
  clock += 30_000;
  expect(await a.flush()).toBe(1);
  expect(bus.received).toEqual([e]);
});

it('purgeSent deletes only rows sent before the given time', async () => {
  const outbox = await makeOutbox(nextCollection());
  await outbox.publish(event(1));
  clock += 1000;
  await outbox.publish(event(2));
  bus.down = true;
  await outbox.publish(event(3)); // unsent: never purged
  await outbox.flush(); // the sent marks, each with its time of sending
  expect(await outbox.purgeSent(new Date(clock - 1000))).toBe(0);
  expect(await outbox.purgeSent(new Date(clock - 500))).toBe(1);
  expect(await outbox.model.countDocuments()).toBe(2);
  expect(await outbox.purgeSent(new Date(clock + 86_400_000))).toBe(1);
  expect(numbers((await outbox.model.find().lean()).map((r) => r.event))).toEqual([3]);
});

it('the relay timer sends pending rows and purges old sent ones by itself; stop() ends it', async () => {
  const outbox = await makeOutbox(nextCollection(), { intervalMs: 10 });
  await outbox.publish(event(1)); // sent at once
  bus.down = true;
  await outbox.publish(event(2));
  bus.down = false;
  clock += 2 * 86_400_000; // row 2 is due, row 1 was sent two days ago
  outbox.start();
  for (let i = 0; i < 200 && (await outbox.model.countDocuments()) !== 1; i += 1) {
    await new Promise((r) => setTimeout(r, 10));
  }
  await outbox.stop();
  expect(numbers(bus.received)).toEqual([1, 2]);
  const rows = await outbox.model.find().lean();
  expect(numbers(rows.map((r) => r.event))).toEqual([2]);
  expect(rows[0].sentAt).toBeInstanceOf(Date);

  // Stopped: a new pending row stays pending.
  bus.down = true;
  await outbox.publish(event(3));
  bus.down = false;
  clock += 10_000;
  await new Promise((r) => setTimeout(r, 50));
  expect(await outbox.pendingCount()).toBe(1);
});

it('outboxEventPublisher turns contract events into envelopes of its source, through the outbox', async () => {
  const outbox = await makeOutbox(nextCollection());
  const events = outboxEventPublisher(outbox, 'widget-service');
  bus.down = true;
  const envelope = await events.publish('product.deleted', { productId: 'w1' });
  expect(envelope).toMatchObject({
    source: 'widget-service',
    eventType: 'product.deleted',
    data: { productId: 'w1' },
  });
  // A payload that breaks its contract is refused where it is made, and nothing is recorded.
  const before = await outbox.pendingCount();
  await expect(
    events.publish('product.deleted', { productId: 'w2', extra: 1 } as never),
  ).rejects.toThrow('widget-service would publish an invalid product.deleted payload: extra');
  expect(await outbox.pendingCount()).toBe(before);
  expect((await outbox.model.findById(envelope.eventId).lean())!.event).toEqual(envelope);
  bus.down = false;
  clock += 5000;
  expect(await events.flush()).toBe(1);
  expect(bus.received).toEqual([envelope]);
});
