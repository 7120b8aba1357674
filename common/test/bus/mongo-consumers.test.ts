import mongoose from 'mongoose';
import { createTestMongo, type TestMongo } from '@ecom/test-support';
import { createEvent, InMemoryEventBus, type ConsumerHandle } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { PROCESSED_EVENTS_COLLECTION, subscribeMongoConsumers } from '@ecom/common/mongo';

const logger = createLogger('mongo-consumers-test', 'silent');

describe('subscribeMongoConsumers (MongoDB stand-in, in-memory bus)', () => {
  let db: TestMongo;
  let connection: mongoose.Connection;
  let bus: InMemoryEventBus;
  let consumers: ConsumerHandle;
  const seen: string[] = [];
  const handled: string[] = [];

  beforeAll(async () => {
    db = await createTestMongo('common_mongo_consumers');
    connection = await mongoose.createConnection(db.url).asPromise();
  });
  afterAll(async () => {
    await connection.close();
    await db.cleanup();
  });
  beforeEach(async () => {
    seen.length = 0;
    handled.length = 0;
    bus = new InMemoryEventBus({ logger, retry: { maxAttempts: 2, baseDelayMs: 5 } });
    consumers = await subscribeMongoConsumers({
      bus,
      connection,
      group: 'gadgets',
      logger,
      observer: { handled: (_g, type, outcome) => void handled.push(`${type} ${outcome}`) },
      handlers: {
        'user.deleted': async (event) => {
          // Typed by the contract: event.data.userId is a string.
          if (event.data.userId === 'boom') throw new Error('handler failed');
          seen.push(event.data.userId);
        },
      },
    });
  });
  afterEach(async () => {
    await consumers.stop();
    await bus.close();
  });

  it('runs each event once per event id and counts it', async () => {
    const event = createEvent('auth-service', 'user.deleted', { userId: 'u1' });
    await bus.publish(event);
    await bus.publish(event);
    await bus.idle();
    expect(seen).toEqual(['u1']);
    expect(handled.sort()).toEqual(['user.deleted duplicate', 'user.deleted handled']);
  });

  it('acknowledges what its skip rule picks without a marker or the handler, counted skipped', async () => {
    const outcomes: string[] = [];
    const skipping = await subscribeMongoConsumers({
      bus,
      connection,
      group: 'skipping',
      logger,
      observer: { handled: (_g, type, outcome) => void outcomes.push(`${type} ${outcome}`) },
      handlers: {
        'user.deleted': async (event) => void seen.push(`skipping ${event.data.userId}`),
      },
      skip: { 'user.deleted': (event) => event.data.userId.startsWith('bot-') },
    });
    try {
      const bot = createEvent('auth-service', 'user.deleted', { userId: 'bot-1' });
      await bus.publish(bot);
      await bus.publish(createEvent('auth-service', 'user.deleted', { userId: 'u3' }));
      await bus.idle();
      expect(seen.sort()).toEqual(['bot-1', 'skipping u3', 'u3']);
      expect(outcomes).toEqual(['user.deleted skipped', 'user.deleted handled']);
      // Only the handled one left a marker.
      const markers = await connection
        .collection(PROCESSED_EVENTS_COLLECTION)
        .find({ consumer: 'skipping' })
        .toArray();
      expect(markers.map((m) => m.eventId)).toHaveLength(1);
      expect(markers[0]!.eventId).not.toBe(bot.eventId);
    } finally {
      await skipping.stop();
    }
  });

  it('dead-letters a payload that breaks its contract at once, without running the handler', async () => {
    await bus.publish(createEvent('auth-service', 'user.deleted', { id: 'u2' }));
    await bus.idle();
    expect(seen).toEqual([]);
    expect(bus.deadLetters.map((d) => [d.attempts, d.reason])).toEqual([
      [1, 'invalid user.deleted payload: userId: any.required'],
    ]);
  });

  it('retries a failing handler (the marker is removed) and then dead-letters it', async () => {
    await bus.publish(createEvent('auth-service', 'user.deleted', { userId: 'boom' }));
    await bus.idle();
    expect(bus.deadLetters.map((d) => [d.attempts, d.reason])).toEqual([[2, 'handler failed']]);
  });

  it('runs a keyed handler on every delivery without a marker, and marks the others', async () => {
    await consumers.stop();
    consumers = await subscribeMongoConsumers({
      bus,
      connection,
      group: 'keyed',
      logger,
      observer: { handled: (_g, type, outcome) => void handled.push(`${type} ${outcome}`) },
      keyedHandlers: ['product.deleted'],
      handlers: {
        'product.deleted': async (event) => void seen.push(`product ${event.data.productId}`),
        'user.deleted': async (event) => void seen.push(`user ${event.data.userId}`),
      },
    });
    const keyed = createEvent('product-service', 'product.deleted', { productId: 'p1' });
    const marked = createEvent('auth-service', 'user.deleted', { userId: 'u3' });
    for (const event of [keyed, keyed, marked, marked]) await bus.publish(event);
    await bus.idle();
    // The keyed handler ran for both deliveries (its own writes are its guard).
    expect(seen).toEqual(['product p1', 'product p1', 'user u3']);
    expect(handled.sort()).toEqual([
      'product.deleted handled',
      'product.deleted handled',
      'user.deleted duplicate',
      'user.deleted handled',
    ]);
    const markers = await connection
      .collection('processed_events')
      .find({ consumer: 'keyed' })
      .toArray();
    expect(markers.map((m) => [m.eventId, m.state])).toEqual([[marked.eventId, 'done']]);
  });

  it('refuses deliveries after stop() so the bus redelivers them', async () => {
    await consumers.stop();
    await bus.publish(createEvent('auth-service', 'user.deleted', { userId: 'late' }));
    await bus.idle();
    expect(seen).toEqual([]);
    expect(bus.deadLetters[0]?.reason).toMatch(/gadgets consumer is stopped/);
  });
});
