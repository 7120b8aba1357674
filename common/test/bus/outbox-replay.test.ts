import type { Pool } from 'pg';
import {
  createTestPostgres,
  describeIfServer,
  type TestPostgres,
} from '@ecom/infrastructure/testing';
import { eventually, RecordingBus } from '@ecom/test-support';
import { createEvent, InMemoryEventBus, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import {
  addToOutbox,
  createPgPool,
  handleEventOnce,
  OutboxRelay,
  type OutboxRelayOptions,
  outboxMigrations,
  processedEventsMigration,
  runMigrations,
  withTransaction,
} from '@ecom/common/postgres';

// ADR 0056: over the in-memory bus (not durable) a sent row may die undelivered with the
// process; the next start sends again what was sent within the replay window.

const logger = createLogger('outbox-replay-test', 'silent');

describeIfServer('postgres', 'outbox replay over a bus that is not durable (PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;
  const running: Array<{ relay: OutboxRelay; bus: EventBus }> = [];

  beforeAll(async () => {
    db = await createTestPostgres('bus_outbox_replay');
    pool = createPgPool(db.url, 8);
    await runMigrations(pool, [...outboxMigrations, processedEventsMigration]);
    await pool.query('CREATE TABLE handled (event_id text NOT NULL)');
  });
  afterAll(async () => {
    await pool.end();
    await db.cleanup();
  });
  beforeEach(() => pool.query('TRUNCATE event_outbox, processed_events, handled'));
  afterEach(async () => {
    for (const { relay, bus } of running.splice(0)) {
      await relay.stop();
      await bus.close();
    }
  });

  /** One run of "the process": a bus and a started relay on the shared database. */
  const startRun = (bus: EventBus, options: Partial<OutboxRelayOptions> = {}) => {
    const relay = new OutboxRelay({ pool, bus, logger, pollIntervalMs: 50, ...options });
    running.push({ relay, bus });
    relay.start();
    return relay;
  };
  /** kill -9 of a run: its relay ends (its marks written) and its bus dies with what it held. */
  const kill = async (relay: OutboxRelay, bus: EventBus) => {
    await relay.stop();
    await bus.close();
    running.splice(
      running.findIndex((r) => r.relay === relay),
      1,
    );
  };
  /** The events `bus` delivers to a group of its own. */
  const received = async (bus: InMemoryEventBus, eventType = 'widget.created') => {
    const events: EventEnvelope[] = [];
    await bus.subscribe({
      group: 'spy',
      eventTypes: [eventType],
      handler: async (event) => void events.push(event),
    });
    return events;
  };
  const row = async (event: EventEnvelope) =>
    (
      await pool.query<{ sent_at: Date | null; send_count: number; payload: EventEnvelope }>(
        'SELECT sent_at, send_count, payload FROM event_outbox WHERE event_id = $1',
        [event.eventId],
      )
    ).rows[0]!;
  /** A row an earlier run sent `agoMs` before now. */
  const sentRow = (event: EventEnvelope, agoMs: number) =>
    pool.query(
      `INSERT INTO event_outbox (event_id, event_type, payload, send_count, sent_at)
       VALUES ($1, $2, $3, 1, now() - $4 * interval '1 millisecond')`,
      [event.eventId, event.eventType, JSON.stringify(event), agoMs],
    );

  it('a row the bus accepted but the process died holding is sent again at the next start, and its handler then runs once', async () => {
    // First run: the consumer's store is down, so the bus holds the event for a retry when
    // the process is killed.
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
    const firstRelay = startRun(first);
    const event = createEvent('test-service', 'widget.created', { n: 1 });
    await withTransaction(pool, (client) => addToOutbox(client, event));
    await eventually(() => attempts === 1);
    await eventually(async () => (await row(event)).sent_at !== null);
    await kill(firstRelay, first);

    // Next runs, on the same database: the handler writes, once per event (handleEventOnce).
    const outcomes: string[] = [];
    const handled = async () =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM handled')).rows[0]!.n;
    const restart = async () => {
      const bus = new InMemoryEventBus();
      await bus.subscribe({
        group: 'widgets',
        eventTypes: ['widget.created'],
        handler: async (e) => {
          outcomes.push(
            await handleEventOnce(pool, 'widgets', e, async (client) => {
              await client.query('INSERT INTO handled (event_id) VALUES ($1)', [e.eventId]);
            }),
          );
        },
      });
      return { bus, relay: startRun(bus) };
    };
    const second = await restart();
    await eventually(() => outcomes.length === 1);
    await second.bus.idle();
    expect(outcomes).toEqual(['handled']);
    expect(await handled()).toBe(1);
    const resent = await row(event);
    expect(resent.sent_at).not.toBeNull();
    expect(resent.send_count).toBe(2);

    // A replica's relay (a pool of its own) started beside it on the same live bus: everything
    // was sent to that bus, which still holds it; nothing goes again.
    const replicaPool = createPgPool(db.url, 2);
    try {
      const replica = new OutboxRelay({ pool: replicaPool, bus: second.bus, logger });
      replica.start();
      await replica.flush();
      await replica.stop();
      await second.bus.idle();
      expect(outcomes).toEqual(['handled']);
      expect((await row(event)).send_count).toBe(2);
    } finally {
      await replicaPool.end();
    }

    // A further restart within the window sends it again; the consumer absorbs it.
    await kill(second.relay, second.bus);
    const third = await restart();
    await eventually(() => outcomes.length === 2);
    await third.bus.idle();
    expect(outcomes).toEqual(['handled', 'duplicate']);
    expect(await handled()).toBe(1);
  });

  it('rows sent longer before the newest send than the window are not sent again; the window counts back from the newest send, not from the restart', async () => {
    const windowMs = 60_000;
    const old = createEvent('test-service', 'widget.created', { n: 1 });
    const recent = createEvent('test-service', 'widget.created', { n: 2 });
    await sentRow(old, 10 * 60_000);
    await sentRow(recent, 1000);
    const bus = new InMemoryEventBus({ replayWindowMs: windowMs });
    const events = await received(bus);
    const relay = startRun(bus);
    await eventually(() => events.length === 1);
    expect(await relay.flush()).toBe(0);
    await bus.idle();
    expect(events).toEqual([recent]);
    expect((await row(old)).send_count).toBe(1);
    await kill(relay, bus);

    // Down for an hour after its last send: that send may have died with the process all
    // the same, and goes again.
    await pool.query('TRUNCATE event_outbox');
    const last = createEvent('test-service', 'widget.created', { n: 3 });
    const before = createEvent('test-service', 'widget.created', { n: 4 });
    await sentRow(last, 3_600_000);
    await sentRow(before, 3_600_000 + 2 * windowMs);
    const later = new InMemoryEventBus({ replayWindowMs: windowMs });
    const afterDowntime = await received(later);
    startRun(later);
    await eventually(() => afterDowntime.length === 1);
    await later.idle();
    expect(afterDowntime).toEqual([last]);
  });

  it("secrets are kept while the window lasts (a replay carries them) and erased once a row's send is older than it", async () => {
    const windowMs = 1500;
    const eraseOnSend = { 'widget.paid': ['data.secret'] };
    const event = createEvent('test-service', 'widget.paid', { n: 1, secret: 's3cret' });
    const first = new InMemoryEventBus({ replayWindowMs: windowMs });
    const delivered = await received(first, 'widget.paid');
    const firstRelay = startRun(first, { eraseOnSend });
    await withTransaction(pool, (client) => addToOutbox(client, event));
    await eventually(async () => (await row(event)).sent_at !== null);
    expect(delivered).toEqual([event]);
    expect((await row(event)).payload).toEqual(event);
    await kill(firstRelay, first);

    const second = new InMemoryEventBus({ replayWindowMs: windowMs });
    const again = await received(second, 'widget.paid');
    startRun(second, { eraseOnSend });
    await eventually(() => again.length === 1);
    // The replay carries the secret to the consumer, which may never have had it.
    expect(again).toEqual([event]);
    const resent = await eventually(async () => {
      const r = await row(event);
      return r.send_count === 2 && r.sent_at ? r : undefined;
    });
    const sentAt = resent.sent_at!.getTime();
    const erased = await eventually(
      async () => {
        const r = await row(event);
        return (r.payload.data as { secret?: string }).secret === undefined ? r : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 50 },
    );
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(windowMs);
    expect(erased.payload).toEqual({ ...event, data: { n: 1 } });
    expect(erased.sent_at).toEqual(resent.sent_at);
  });

  it('over a durable bus a secret is erased at send and nothing is sent again at start; the in-memory bus, on the same rows, replays them', async () => {
    const recent = createEvent('test-service', 'widget.created', { n: 1 });
    await sentRow(recent, 1000);
    const durable = new RecordingBus();
    const relay = startRun(durable, { eraseOnSend: { 'widget.paid': ['data.secret'] } });
    const secret = createEvent('test-service', 'widget.paid', { n: 2, secret: 's3cret' });
    await withTransaction(pool, (client) => addToOutbox(client, secret));
    // The mark of a secret is written at once, and erases it in the same statement.
    const marked = await eventually(async () => {
      const r = await row(secret);
      return r.sent_at ? r : undefined;
    });
    expect(marked.payload).toEqual({ ...secret, data: { n: 2 } });
    expect(await relay.flush()).toBe(0);
    expect(durable.published).toEqual([secret]);
    expect((await row(recent)).send_count).toBe(1);
    await kill(relay, durable);

    // The bus makes the difference: over the in-memory one both go again, in id order (the
    // secret was erased by the durable run: a data directory moving between buses).
    const memory = new InMemoryEventBus();
    const events: EventEnvelope[] = [];
    await memory.subscribe({
      group: 'spy',
      eventTypes: ['widget.created', 'widget.paid'],
      handler: async (event) => void events.push(event),
    });
    startRun(memory);
    await eventually(() => events.length === 2);
    expect(events).toEqual([recent, { ...secret, data: { n: 2 } }]);
  });
});
