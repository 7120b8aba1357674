import { Client, type Pool } from 'pg';
import {
  createTestPostgres,
  describeIfServer,
  type TestPostgres,
} from '@ecom/infrastructure/testing';
import { eventually, freePort, queryText, RecordingBus } from '@ecom/test-support';
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
  sendQueuedWrites,
  withTransaction,
  writeAtCommit,
} from '@ecom/common/postgres';

const logger = createLogger('outbox-test');

describeIfServer('postgres', 'transactional outbox and idempotent consumer (PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('bus_outbox');
    pool = createPgPool(db.url, 12);
    await runMigrations(pool, [...outboxMigrations, processedEventsMigration]);
    await pool.query('CREATE TABLE widgets (id text PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool.end();
    await db.cleanup();
  });
  beforeEach(() => pool.query('TRUNCATE event_outbox, processed_events, widgets'));
  const unmarked = async (): Promise<number> =>
    (await pool.query('SELECT count(*)::int AS n FROM event_outbox WHERE sent_at IS NULL')).rows[0]
      .n;
  /** A relay on the shared pool that polls only when told, with these options. */
  const quietRelay = (bus: EventBus, options: Partial<OutboxRelayOptions> = {}) =>
    new OutboxRelay({ pool, bus, logger, pollIntervalMs: 60_000, ...options });
  /** A pool of its own for a relay under test, counting the connections the relay takes. */
  const countedPool = () => {
    const own = createPgPool(db.url, 3);
    const counter = { checkouts: 0 };
    own.on('acquire', () => counter.checkouts++);
    return { own, counter };
  };
  /** Writes a row as a writer whose direct send never happened would: due in `ms`, no NOTIFY. */
  const rowDueIn = async (event: EventEnvelope, ms: number) =>
    pool.query(
      `INSERT INTO event_outbox (event_id, event_type, payload, next_attempt_at)
       VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')`,
      [event.eventId, event.eventType, JSON.stringify(event), ms],
    );
  const listenerPid = async () =>
    eventually(async () => {
      const { rows } = await pool.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN event_outbox'`,
      );
      return rows[0]?.pid as number | undefined;
    });

  it('a database away for long logs its failures once per 30 s with a count, not once per poll', async () => {
    // A port nothing listens on: every connection is refused, as while PostgreSQL is stopped.
    const away = createPgPool(`postgres://postgres@127.0.0.1:${await freePort()}/none`, 2);
    let attempts = 0;
    const connect = away.connect.bind(away);
    away.connect = ((...args: Parameters<typeof connect>) => {
      attempts += 1;
      return connect(...args);
    }) as typeof away.connect;
    const lines: Array<{ level: string; message: string }> = [];
    const recording = Object.assign(Object.create(logger) as typeof logger, {
      error: (message: string) => lines.push({ level: 'error', message }),
      warn: (message: string) => lines.push({ level: 'warn', message }),
      info: (message: string) => lines.push({ level: 'info', message }),
    });
    const relay = new OutboxRelay({
      pool: away,
      bus: new RecordingBus(),
      logger: recording,
      pollIntervalMs: 10,
    });
    relay.start();
    try {
      await eventually(() => attempts >= 20, { what: 'twenty refused connections' });
    } finally {
      await relay.stop();
      await away.end();
    }
    const count = (message: string) => lines.filter((l) => l.message === message).length;
    expect(count('outbox relay flush failed')).toBe(1);
    expect(count('outbox LISTEN unavailable, polling only')).toBeLessThanOrEqual(1);
  });

  it('publishes only events whose transaction committed, in insertion order, and marks them sent', async () => {
    const events = [1, 2, 3].map((n) => createEvent('test-service', 'widget.created', { n }));
    await withTransaction(pool, async (client) => {
      for (const event of events) await addToOutbox(client, event);
    });
    const rolledBack = createEvent('test-service', 'widget.created', { n: 99 });
    await expect(
      withTransaction(pool, async (client) => {
        await addToOutbox(client, rolledBack);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');

    const bus = new RecordingBus();
    const relay = new OutboxRelay({ pool, bus, logger });
    expect(await relay.flush()).toBe(3);
    expect(bus.published.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    expect(bus.published[0]).toEqual(events[0]);
    expect(await relay.flush()).toBe(0);
    expect(await unmarked()).toBe(0);
  });

  it('keeps failed rows with a send count and last error, and retries them until sent', async () => {
    const event = createEvent('test-service', 'widget.created', { n: 1 });
    await withTransaction(pool, (client) => addToOutbox(client, event));
    const bus = new RecordingBus(2);
    const relay = new OutboxRelay({ pool, bus, logger, retryBaseMs: 10, retryMaxMs: 20 });
    expect(await relay.flush()).toBe(0);
    let { rows } = await pool.query('SELECT send_count, last_error, sent_at FROM event_outbox');
    expect(rows[0]).toMatchObject({
      send_count: 1,
      last_error: 'broker unavailable',
      sent_at: null,
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(await relay.flush()).toBe(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(await relay.flush()).toBe(1);
    ({ rows } = await pool.query('SELECT send_count, last_error, sent_at FROM event_outbox'));
    expect(rows[0].send_count).toBe(3);
    expect(rows[0].last_error).toBeNull();
    expect(rows[0].sent_at).not.toBeNull();
    expect(bus.published).toHaveLength(1);
  });

  it('several relays publish each row exactly once (FOR UPDATE SKIP LOCKED)', async () => {
    const events = Array.from({ length: 200 }, (_, n) =>
      createEvent('test-service', 'widget.created', { n }),
    );
    await withTransaction(pool, async (client) => {
      for (const event of events) await addToOutbox(client, event);
    });
    const buses = [new RecordingBus(), new RecordingBus(), new RecordingBus()];
    const relays = buses.map((bus) => new OutboxRelay({ pool, bus, logger, batchSize: 10 }));
    const counts = await Promise.all(relays.map((relay) => relay.flush()));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(200);
    const ids = buses.flatMap((bus) => bus.published.map((e) => e.eventId));
    expect(new Set(ids).size).toBe(200);
    expect(ids).toHaveLength(200);
  });

  it('a started relay publishes right after commit (NOTIFY), without waiting for the poll', async () => {
    const bus = new InMemoryEventBus({ logger });
    const received: string[] = [];
    await bus.subscribe({
      group: 'g',
      eventTypes: ['widget.created'],
      handler: async (e) => {
        received.push(e.eventId);
      },
    });
    // No look within the test's 20 s bound: only the NOTIFY can wake it.
    const relay = new OutboxRelay({
      pool,
      bus,
      logger,
      pollIntervalMs: 60_000,
      listeningPollMs: 60_000,
    });
    relay.start();
    await listenerPid(); // LISTEN established
    await relay.flush(); // the looks of its start are over
    const event = createEvent('test-service', 'widget.created', { n: 1 });
    const started = Date.now();
    // Written as another instance would (no in-process signal): only the NOTIFY wakes the relay.
    await withTransaction(pool, async (client) => {
      await client.query(
        'INSERT INTO event_outbox (event_id, event_type, payload) VALUES ($1, $2, $3)',
        [event.eventId, event.eventType, JSON.stringify(event)],
      );
      await client.query('NOTIFY event_outbox');
    });
    // Well inside the 60 s looks: only the NOTIFY can have woken it (no tight stopwatch).
    while (received.length === 0 && Date.now() - started < 20_000)
      await new Promise((r) => setTimeout(r, 5));
    expect(received).toEqual([event.eventId]);
    expect(Date.now() - started).toBeLessThan(20_000);
    await relay.stop();
    await bus.close();
  });

  it('handleEventOnce runs the handler once per (consumer, event), even for concurrent deliveries', async () => {
    const event = createEvent('test-service', 'widget.created', { id: 'w1' });
    const handle = () =>
      handleEventOnce(pool, 'widgets', event, async (client) => {
        await client.query('INSERT INTO widgets (id) VALUES ($1)', ['w1']);
        await new Promise((r) => setTimeout(r, 50));
      });
    const outcomes = await Promise.all([handle(), handle(), handle()]);
    expect(outcomes.sort()).toEqual(['duplicate', 'duplicate', 'handled']);
    expect(await handle()).toBe('duplicate');
    // Another consumer has its own key.
    expect(await handleEventOnce(pool, 'other', event, async () => undefined)).toBe('handled');
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM widgets');
    expect(rows[0].n).toBe(1);
  });

  it('handleEventOnce rolls the key back with the writes when the handler throws, so a retry runs it', async () => {
    const event = createEvent('test-service', 'widget.created', { id: 'w2' });
    await expect(
      handleEventOnce(pool, 'widgets', event, async (client) => {
        await client.query('INSERT INTO widgets (id) VALUES ($1)', ['w2']);
        throw new Error('downstream failed');
      }),
    ).rejects.toThrow('downstream failed');
    let { rows } = await pool.query('SELECT count(*)::int AS n FROM widgets');
    expect(rows[0].n).toBe(0);
    expect(
      await handleEventOnce(pool, 'widgets', event, async (client) => {
        await client.query('INSERT INTO widgets (id) VALUES ($1)', ['w2']);
      }),
    ).toBe('handled');
    ({ rows } = await pool.query('SELECT count(*)::int AS n FROM widgets'));
    expect(rows[0].n).toBe(1);
  });
  it('sendQueuedWrites sends the queued statements early, in order, only when one has its key', async () => {
    const seen = await withTransaction(pool, async (client) => {
      const count = async () =>
        (await client.query("SELECT count(*)::int AS n FROM widgets WHERE id LIKE 'k-%'")).rows[0]
          .n as number;
      await writeAtCommit(client, "INSERT INTO widgets (id) VALUES ('k-plain')");
      await writeAtCommit(client, "INSERT INTO widgets (id) VALUES ('k-keyed')", 'mine');
      await sendQueuedWrites(client, 'another');
      const before = await count();
      await sendQueuedWrites(client, 'mine');
      const after = await count();
      // Sent already: the COMMIT does not send them again (no duplicate key).
      await writeAtCommit(client, "INSERT INTO widgets (id) VALUES ('k-last')");
      return [before, after];
    });
    expect(seen).toEqual([0, 2]);
    const { rows } = await pool.query("SELECT id FROM widgets WHERE id LIKE 'k-%' ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual(['k-keyed', 'k-last', 'k-plain']);
  });

  it('writeAtCommit statements travel with the COMMIT: unseen before it, committed with it, and one that fails rolls the whole transaction back', async () => {
    let seenInside = -1;
    await withTransaction(pool, async (client) => {
      await writeAtCommit(client, "INSERT INTO widgets (id) VALUES ('later')");
      await client.query("INSERT INTO widgets (id) VALUES ('now')");
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM widgets WHERE id = 'later'",
      );
      seenInside = rows[0].n;
    });
    expect(seenInside).toBe(0);
    let { rows } = await pool.query('SELECT id FROM widgets ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['later', 'now']);

    // A queued statement that fails (duplicate key) fails the transaction: 'again' is not kept.
    await expect(
      withTransaction(pool, async (client) => {
        await client.query("INSERT INTO widgets (id) VALUES ('again')");
        await writeAtCommit(client, "INSERT INTO widgets (id) VALUES ('later')");
      }),
    ).rejects.toThrow(/duplicate key/);
    ({ rows } = await pool.query('SELECT id FROM widgets ORDER BY id'));
    expect(rows.map((r) => r.id)).toEqual(['later', 'now']);

    // Outside withTransaction it runs at once.
    const client = await pool.connect();
    try {
      await writeAtCommit(client, "INSERT INTO widgets (id) VALUES ('alone')");
    } finally {
      client.release();
    }
    ({ rows } = await pool.query("SELECT count(*)::int AS n FROM widgets WHERE id = 'alone'"));
    expect(rows[0].n).toBe(1);
  });

  it('a consumed event that only writes an outbox row costs one round trip: BEGIN, its key, the row and COMMIT', async () => {
    const event = createEvent('test-service', 'widget.created', { id: 'w3' });
    const queries = jest.spyOn(Client.prototype, 'query');
    try {
      const outcome = await handleEventOnce(pool, 'widgets', event, async (client) => {
        await addToOutbox(client, createEvent('test-service', 'widget.announced', { id: 'w3' }));
      });
      expect(outcome).toBe('handled');
      // The calls on the handler's client (the one that sent the key), whatever else ran.
      const keyed = queries.mock.calls.findIndex(([text]) =>
        queryText(text).includes('processed_events'),
      );
      const client = queries.mock.contexts[keyed];
      expect(queries.mock.contexts.filter((c) => c === client)).toHaveLength(1);
      expect(queryText(queries.mock.calls[keyed]![0])).toMatch(
        /^BEGIN;\s*INSERT INTO processed_events .*INSERT INTO event_outbox .*;\s*COMMIT$/s,
      );
    } finally {
      queries.mockRestore();
    }
    const { rows } = await pool.query('SELECT event_type FROM event_outbox');
    expect(rows).toEqual([{ event_type: 'widget.announced' }]);
  });

  it('keys and payloads with quotes, backslashes and non-ASCII text arrive intact (escaped literals)', async () => {
    const tricky = `it's a \\ "quote" \\' ; DROP TABLE widgets; -- ü 🚀`;
    const event = {
      ...createEvent('test-service', 'widget.created', { note: tricky }),
      eventId: tricky,
    };
    const consumer = `c'\\x`;
    const handle = () =>
      handleEventOnce(pool, consumer, event, async (client) => {
        await addToOutbox(client, createEvent('test-service', 'widget.noted', { note: tricky }));
      });
    expect(await handle()).toBe('handled');
    expect(await handle()).toBe('duplicate');
    const keys = await pool.query('SELECT consumer, event_id FROM processed_events');
    expect(keys.rows).toEqual([{ consumer, event_id: tricky }]);
    const bus = new RecordingBus();
    const relay = new OutboxRelay({ pool, bus, logger });
    expect(await relay.flush()).toBe(1);
    expect(bus.published[0]!.data).toEqual({ note: tricky });
    expect(
      await pool.query('SELECT count(*)::int AS n FROM widgets').then((r) => r.rows[0].n),
    ).toBe(0);
  });

  it('a started relay sends what its pool commits right after the COMMIT (no NOTIFY, no claim), erases what it must and marks the row', async () => {
    const bus = new RecordingBus();
    const relay = new OutboxRelay({
      pool,
      bus,
      logger,
      pollIntervalMs: 60_000,
      eraseOnSend: { 'widget.created': ['data.secret'] },
    });
    const listener = new Client({ connectionString: db.url });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (n) => notified.push(n.channel));
    await listener.query('LISTEN event_outbox');
    relay.start();
    try {
      const event = createEvent('test-service', 'widget.created', { n: 1, secret: 's3cret' });
      const rolledBack = createEvent('test-service', 'widget.created', { n: 2 });
      await withTransaction(pool, (client) => addToOutbox(client, event));
      await expect(
        withTransaction(pool, async (client) => {
          await addToOutbox(client, rolledBack);
          throw new Error('business rule failed');
        }),
      ).rejects.toThrow('business rule failed');
      // stop() waits for the send and its mark: no polling needed to see both.
      await relay.stop();
      expect(bus.published).toEqual([event]);
      const { rows } = await pool.query(
        `SELECT event_id, send_count, last_error, payload, sent_at IS NOT NULL AS sent,
                next_attempt_at - created_at AS grace FROM event_outbox`,
      );
      expect(rows).toEqual([
        {
          event_id: event.eventId,
          send_count: 1,
          last_error: null,
          payload: { ...event, data: { n: 1 } },
          sent: true,
          grace: expect.objectContaining({ seconds: 5 }),
        },
      ]);
      await new Promise((r) => setTimeout(r, 100));
      expect(notified).toEqual([]);
      // Nothing is left for the claim loop.
      expect(await relay.flush()).toBe(0);
      expect(bus.published).toHaveLength(1);
    } finally {
      await relay.stop();
      await listener.end();
    }
  });

  it('the sent marks of direct sends within one window share one UPDATE, and stop() writes those still waiting', async () => {
    const bus = new RecordingBus();
    const relay = quietRelay(bus, { markWindowMs: 2000 });
    const query = jest.spyOn(pool, 'query');
    const marks = () =>
      query.mock.calls.filter(([sql]) => String(sql).startsWith('UPDATE event_outbox SET sent_at'))
        .length;
    relay.start();
    try {
      const events = [1, 2, 3].map((n) => createEvent('test-service', 'widget.created', { n }));
      for (const event of events)
        await withTransaction(pool, (client) => addToOutbox(client, event));
      await eventually(() => bus.published.length === 3);
      const unsent = await unmarked();
      await eventually(async () => (await unmarked()) === 0);
      expect(unsent).toBe(3);
      expect(marks()).toBe(1);

      const late = createEvent('test-service', 'widget.created', { n: 4 });
      await withTransaction(pool, (client) => addToOutbox(client, late));
      await eventually(() => bus.published.length === 4);
      await relay.stop();
      const { rows } = await pool.query('SELECT sent_at FROM event_outbox WHERE event_id = $1', [
        late.eventId,
      ]);
      expect(rows[0].sent_at).not.toBeNull();
      expect(marks()).toBe(2);
    } finally {
      query.mockRestore();
      await relay.stop();
    }
  });

  it('a row whose type carries a secret is marked and erased at once, not after the window, with the marks waiting beside it', async () => {
    const bus = new RecordingBus();
    const relay = quietRelay(bus, {
      markWindowMs: 60_000,
      directSendGraceMs: 120_000,
      eraseOnSend: { 'widget.paid': ['data.secret'] },
    });
    relay.start();
    try {
      const plain = createEvent('test-service', 'widget.created', { n: 1 });
      const secret = createEvent('test-service', 'widget.paid', { n: 2, secret: 's3cret' });
      await withTransaction(pool, (client) => addToOutbox(client, plain));
      await eventually(() => bus.published.length === 1);
      await withTransaction(pool, (client) => addToOutbox(client, secret));
      const { rows } = await eventually(async () => {
        const r = await pool.query(
          'SELECT event_id, payload, sent_at FROM event_outbox WHERE sent_at IS NOT NULL ORDER BY id',
        );
        return r.rows.length === 2 ? r : undefined;
      });
      expect(rows.map((r) => r.event_id)).toEqual([plain.eventId, secret.eventId]);
      expect(rows[1].payload.data).toEqual({ n: 2 });
      expect(bus.published).toEqual([plain, secret]);
    } finally {
      await relay.stop();
    }
  });

  it('a direct send the bus refuses is sent by the relay once its grace is over, and only then', async () => {
    const bus = new RecordingBus(1);
    const relay = new OutboxRelay({
      pool,
      bus,
      logger,
      pollIntervalMs: 50,
      // Listening, it looks again only when the refused send's row comes due.
      listeningPollMs: 60_000,
      directSendGraceMs: 400,
    });
    relay.start();
    try {
      await listening();
      const event = createEvent('test-service', 'widget.created', { n: 1 });
      await withTransaction(pool, (client) => addToOutbox(client, event));
      const committed = Date.now();
      await new Promise((r) => setTimeout(r, 200));
      expect(bus.published).toEqual([]);
      await eventually(() => bus.published.length === 1, { timeoutMs: 5000, intervalMs: 10 });
      expect(Date.now() - committed).toBeGreaterThanOrEqual(350);
      expect(bus.published).toEqual([event]);
      const { rows } = await eventually(async () => {
        const r = await pool.query('SELECT send_count, sent_at FROM event_outbox');
        return r.rows[0]?.sent_at ? r : undefined;
      });
      expect(rows[0].send_count).toBe(1);
    } finally {
      await relay.stop();
    }
  });

  /**
   * Waits until `event` alone reached the bus, at least `atLeastMs` after `since` and well
   * before the relays' 60 s look (20 s: a busy machine is slow, never that slow).
   */
  const publishedAlone = async (
    bus: RecordingBus,
    event: EventEnvelope,
    { since, atLeastMs }: { since: number; atLeastMs: number },
  ) => {
    await eventually(() => bus.published.length === 1, { timeoutMs: 20_000, intervalMs: 10 });
    expect(Date.now() - since).toBeGreaterThanOrEqual(atLeastMs);
    expect(Date.now() - since).toBeLessThan(20_000);
    expect(bus.published).toEqual([event]);
  };
  /** Waits until a relay listens and the looks of its start (before and after LISTEN) are over. */
  const listening = async () => {
    await listenerPid();
    await new Promise((r) => setTimeout(r, 200));
  };

  it('a listening relay sleeps while nothing is due: an idle second costs it one look, not one per poll', async () => {
    const { own, counter } = countedPool();
    const relay = new OutboxRelay({
      pool: own,
      bus: new RecordingBus(),
      logger,
      pollIntervalMs: 20,
      listeningPollMs: 60_000,
    });
    relay.start();
    try {
      await listening();
      const settled = counter.checkouts;
      await new Promise((r) => setTimeout(r, 1000));
      // At the 20 ms poll it would have looked about fifty times.
      expect(counter.checkouts - settled).toBeLessThanOrEqual(1);
    } finally {
      await relay.stop();
      await own.end();
    }
  });

  it('a listening relay wakes when the earliest row it saw comes due (a writer that died before its direct send)', async () => {
    const bus = new RecordingBus();
    const relay = quietRelay(bus, { listeningPollMs: 60_000 });
    const event = createEvent('test-service', 'widget.created', { n: 1 });
    // Before the insert: the row comes due 2 s after its transaction began, so after this.
    const written = Date.now();
    await rowDueIn(event, 2000);
    relay.start();
    try {
      await listenerPid();
      expect(bus.published).toEqual([]);
      await publishedAlone(bus, event, { since: written, atLeastMs: 1990 });
    } finally {
      await relay.stop();
    }
  });

  it('a listening relay wakes for the retry of a publish the bus refused', async () => {
    const bus = new RecordingBus(1);
    // A retry 2 s after the refused claim: a margin no busy machine's slowness crosses.
    const relay = quietRelay(bus, { listeningPollMs: 60_000, retryBaseMs: 2000 });
    const event = createEvent('test-service', 'widget.created', { n: 1 });
    await rowDueIn(event, 0);
    relay.start();
    try {
      await eventually(async () => (await unmarked()) === 1 && bus.failures === 0);
      // The retry comes retryBaseMs after the claim that was refused, not at once (the claim's
      // transaction began before the refusal: hence half of it).
      await publishedAlone(bus, event, { since: bus.refusedAt, atLeastMs: 1000 });
    } finally {
      await relay.stop();
    }
  });

  it('a listening relay whose pass failed looks again at the short poll, not the long one', async () => {
    const bus = new RecordingBus();
    const relay = quietRelay(bus, { pollIntervalMs: 50, listeningPollMs: 60_000 });
    relay.start();
    try {
      await listening();
      // The claim fails while LISTEN stays up: the table is away for a moment.
      await pool.query('ALTER TABLE event_outbox RENAME TO event_outbox_away');
      const failed = relay.flush();
      await expect(failed).rejects.toThrow(/event_outbox/);
      await pool.query('ALTER TABLE event_outbox_away RENAME TO event_outbox');
      // Written with no NOTIFY: only a look finds it.
      const event = createEvent('test-service', 'widget.created', { n: 1 });
      await rowDueIn(event, 0);
      await publishedAlone(bus, event, { since: Date.now(), atLeastMs: 0 });
    } finally {
      await pool.query('ALTER TABLE IF EXISTS event_outbox_away RENAME TO event_outbox');
      await relay.stop();
    }
  });

  it('a relay whose LISTEN connection dies goes back to the short poll and listens again', async () => {
    const bus = new RecordingBus();
    const relay = quietRelay(bus, { pollIntervalMs: 50, listeningPollMs: 60_000 });
    relay.start();
    try {
      const first = await listenerPid();
      await pool.query('SELECT pg_terminate_backend($1)', [first]);
      // Written with no NOTIFY: only a look finds it, and the long poll would be a minute away.
      const event = createEvent('test-service', 'widget.created', { n: 1 });
      await rowDueIn(event, 0);
      await eventually(() => bus.published.length === 1, { timeoutMs: 20_000, intervalMs: 10 });
      expect(bus.published).toEqual([event]);
      const second = await listenerPid();
      expect(second).not.toBe(first);
    } finally {
      await relay.stop();
    }
  });

  it('an unstarted relay sends nothing by itself: rows written without a running relay are due at once, for whichever relay claims them', async () => {
    const bus = new RecordingBus();
    const relay = new OutboxRelay({ pool, bus, logger });
    const event = createEvent('test-service', 'widget.created', { n: 1 });
    await withTransaction(pool, (client) => addToOutbox(client, event));
    await new Promise((r) => setTimeout(r, 50));
    expect(bus.published).toEqual([]);
    expect(await relay.flush()).toBe(1);
    expect(bus.published).toEqual([event]);
  });
});
