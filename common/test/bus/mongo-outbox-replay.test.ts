import mongoose from 'mongoose';
import { createEvent, InMemoryEventBus, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import { createTestMongo, eventually, RecordingBus, type TestMongo } from '@ecom/test-support';
import { createLogger } from '@ecom/common/logging';
import { createMongoOutbox, handleEventOnceMongo, type MongoOutbox } from '@ecom/common/mongo';

// ADR 0056: over the in-memory bus (not durable) a sent row may die undelivered with the
// process; the next start sends again what was sent within the replay window.

const logger = createLogger('mongo-outbox-replay-test', 'silent');
let db: TestMongo;
let connection: mongoose.Connection;
let clock: number;
const now = () => new Date(clock);
let collectionNo = 0;
const running: Array<{ outbox: MongoOutbox; bus: EventBus }> = [];

/** One run of "the process": an outbox on `collection` over `bus`, started. */
async function startRun(collection: string, bus: EventBus): Promise<MongoOutbox> {
  const outbox = createMongoOutbox({
    connection,
    collection,
    bus,
    logger,
    intervalMs: 50,
    directSendGraceMs: 5000,
    now,
  });
  await outbox.init();
  running.push({ outbox, bus });
  outbox.start();
  return outbox;
}
/** kill -9 of a run: its relay ends (its marks written) and its bus dies with what it held. */
async function kill(outbox: MongoOutbox): Promise<void> {
  const at = running.findIndex((r) => r.outbox === outbox);
  const [{ bus }] = running.splice(at, 1);
  await outbox.stop();
  await bus.close();
}
/** The events `bus` delivers to a group of its own. */
async function received(bus: InMemoryEventBus): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    group: 'spy',
    eventTypes: ['widget.created'],
    handler: async (event) => void events.push(event),
  });
  return events;
}
/** A row an earlier run sent `agoMs` before the clock. */
async function sentRow(collection: string, event: EventEnvelope, agoMs: number): Promise<void> {
  const at = new Date(clock - agoMs);
  await connection.collection(collection).insertOne({
    _id: event.eventId as never,
    event,
    createdAt: at,
    nextAttemptAt: at,
    attempts: 1,
    sentAt: at,
    lastError: null,
  });
}
const nextCollection = () => `outbox_replay_${(collectionNo += 1)}`;
const event = (n: number) => createEvent('test-service', 'widget.created', { n });

beforeAll(async () => {
  db = await createTestMongo('bus_mongo_outbox_replay');
  // sanitizeFilter as the services use it: the replay's operators must still work.
  connection = await mongoose.createConnection(db.url, { sanitizeFilter: true }).asPromise();
});
beforeEach(() => {
  clock = Date.parse('2026-01-01T00:00:00Z');
});
afterEach(async () => {
  for (const { outbox, bus } of running.splice(0)) {
    await outbox.stop();
    await bus.close();
  }
});
afterAll(async () => {
  await connection.close();
  await db.cleanup();
});

it('a row the bus accepted but the process died holding is sent again at the next start, and its handler then runs once', async () => {
  const collection = nextCollection();
  // First run: the consumer's store is down, so the bus holds the event for a retry when the
  // process is killed.
  const first = new InMemoryEventBus({ retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
  let attempts = 0;
  await first.subscribe({
    group: 'widgets',
    eventTypes: ['widget.created'],
    handler: async () => {
      attempts += 1;
      throw new Error('store down');
    },
  });
  const firstOutbox = await startRun(collection, first);
  const e = event(1);
  await firstOutbox.publish(e);
  await eventually(() => attempts === 1);
  await kill(firstOutbox); // writes the sent mark first
  expect((await firstOutbox.model.findById(e.eventId).lean())?.sentAt).toEqual(now());
  clock += 1000;

  // Next runs, on the same database: the handler writes, once per event (the marker).
  const outcomes: string[] = [];
  const handled = connection.collection('replay_handled');
  const restart = async () => {
    const bus = new InMemoryEventBus();
    await bus.subscribe({
      group: 'widgets',
      eventTypes: ['widget.created'],
      handler: async (delivered) => {
        outcomes.push(
          await handleEventOnceMongo(connection, 'replay-widgets', delivered, async () => {
            await handled.insertOne({ eventId: delivered.eventId });
          }),
        );
      },
    });
    return { bus, outbox: await startRun(collection, bus) };
  };
  const second = await restart();
  await eventually(() => outcomes.length === 1);
  await second.bus.idle();
  expect(outcomes).toEqual(['handled']);
  expect(await handled.countDocuments({ eventId: e.eventId })).toBe(1);
  const resent = await eventually(async () => {
    const row = await second.outbox.model.findById(e.eventId).lean();
    return row?.sentAt ? row : undefined;
  });
  expect(resent.sentAt).toEqual(now());

  // A further restart within the window sends it again; the consumer absorbs it.
  await kill(second.outbox);
  clock += 1000;
  const third = await restart();
  await eventually(() => outcomes.length === 2);
  await third.bus.idle();
  expect(outcomes).toEqual(['handled', 'duplicate']);
  expect(await handled.countDocuments({ eventId: e.eventId })).toBe(1);
});

it('rows sent longer before the newest send than the window are not sent again; the window counts back from the newest send, not from the restart', async () => {
  const windowMs = 60_000;
  const collection = nextCollection();
  const [old, recent] = [event(1), event(2)];
  await sentRow(collection, old, 10 * 60_000);
  await sentRow(collection, recent, 1000);
  const bus = new InMemoryEventBus({ replayWindowMs: windowMs });
  const events = await received(bus);
  const outbox = await startRun(collection, bus);
  await eventually(() => events.length === 1);
  // Sent again and marked (a flush joins the start's own while it runs).
  await eventually(async () => (await outbox.model.findById(recent.eventId).lean())?.sentAt);
  expect(await outbox.flush()).toBe(0);
  await bus.idle();
  expect(events).toEqual([recent]);
  expect((await outbox.model.findById(old.eventId).lean())?.attempts).toBe(1);

  // Down for an hour after its last send: that send may have died with the process all the
  // same, and goes again.
  const later = nextCollection();
  const [last, before] = [event(3), event(4)];
  await sentRow(later, last, 3_600_000);
  await sentRow(later, before, 3_600_000 + 2 * windowMs);
  const laterBus = new InMemoryEventBus({ replayWindowMs: windowMs });
  const afterDowntime = await received(laterBus);
  await startRun(later, laterBus);
  await eventually(() => afterDowntime.length === 1);
  await laterBus.idle();
  expect(afterDowntime).toEqual([last]);
});

it('over a durable bus nothing is sent again at start; the in-memory bus, on the same row, sends it again', async () => {
  const collection = nextCollection();
  const recent = event(1);
  await sentRow(collection, recent, 1000);
  const durable = new RecordingBus();
  const outbox = await startRun(collection, durable);
  await new Promise((r) => setTimeout(r, 200)); // a few relay rounds
  expect(await outbox.flush()).toBe(0);
  expect(durable.published).toEqual([]);
  expect((await outbox.model.findById(recent.eventId).lean())?.sentAt).toEqual(
    new Date(clock - 1000),
  );
  await kill(outbox);

  // The bus makes the difference.
  const memory = new InMemoryEventBus();
  const events = await received(memory);
  await startRun(collection, memory);
  await eventually(() => events.length === 1);
  expect(events).toEqual([recent]);
});
