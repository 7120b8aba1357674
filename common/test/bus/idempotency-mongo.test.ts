import mongoose from 'mongoose';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';
import { createEvent } from '@ecom/common/bus';
import { handleEventOnceMongo, PROCESSED_EVENTS_COLLECTION } from '@ecom/common/mongo';

describe('handleEventOnceMongo (MongoDB, no multi-document transaction needed)', () => {
  let db: TestMongo;
  let connection: mongoose.Connection;
  let effects: mongoose.mongo.Collection;

  beforeAll(async () => {
    db = await createTestMongo('bus_idem');
    connection = await mongoose.createConnection(db.url).asPromise();
    effects = connection.db!.collection('effects');
  });
  afterAll(async () => {
    await connection.close();
    await db.cleanup();
  });

  const apply = (key: string) => async () => {
    await effects.insertOne({ key, at: new Date() });
  };

  it('handles an event once; redeliveries (also concurrent ones) are duplicates', async () => {
    const event = createEvent('test-service', 'widget.created', { id: 'a' });
    const slow = async () => {
      await new Promise((r) => setTimeout(r, 50));
      await apply('a')();
    };
    const outcomes = await Promise.all([
      handleEventOnceMongo(connection, 'c1', event, slow),
      handleEventOnceMongo(connection, 'c1', event, slow),
    ]);
    expect(outcomes.sort()).toEqual(['duplicate', 'handled']);
    expect(await handleEventOnceMongo(connection, 'c1', event, apply('a'))).toBe('duplicate');
    expect(await effects.countDocuments({ key: 'a' })).toBe(1);
    const marker = await connection
      .db!.collection(PROCESSED_EVENTS_COLLECTION)
      .findOne({ eventId: event.eventId });
    expect(marker).toMatchObject({ consumer: 'c1', state: 'done', eventType: 'widget.created' });
  });

  it('a handler that throws leaves no marker, so the retry runs it', async () => {
    const event = createEvent('test-service', 'widget.created', { id: 'b' });
    await expect(
      handleEventOnceMongo(connection, 'c1', event, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await handleEventOnceMongo(connection, 'c1', event, apply('b'))).toBe('handled');
    expect(await effects.countDocuments({ key: 'b' })).toBe(1);
  });

  it('re-runs an event whose first delivery died mid-handler once its lease expired', async () => {
    const event = createEvent('test-service', 'widget.created', { id: 'c' });
    // What a crash leaves behind: a 'processing' marker nobody will finish. Its lease (2 s from
    // `started`) ends 2 s from `started`, however long the insert takes.
    const started = Date.now();
    await connection
      .db!.collection<{ _id: string; [key: string]: unknown }>(PROCESSED_EVENTS_COLLECTION)
      .insertOne({
        _id: `c1|${event.eventId}`,
        consumer: 'c1',
        eventId: event.eventId,
        eventType: event.eventType,
        state: 'processing',
        startedAt: new Date(started),
        runs: 1,
      });
    expect(await handleEventOnceMongo(connection, 'c1', event, apply('c'), { leaseMs: 2000 })).toBe(
      'handled',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(await effects.countDocuments({ key: 'c' })).toBe(1);
    expect(await handleEventOnceMongo(connection, 'c1', event, apply('c'))).toBe('duplicate');
  });
});
