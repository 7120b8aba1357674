import type { Pool } from 'pg';
import {
  createTestPostgres,
  describeIfServer,
  type TestPostgres,
} from '@ecom/infrastructure/testing';
import {
  createEvent,
  InMemoryEventBus,
  type ConsumerHandle,
  type DeadLetter,
} from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { eventually, startTcpRelay, type TcpRelay } from '@ecom/test-support';
import {
  createPgPool,
  processedEventsMigration,
  runMigrations,
  subscribePgConsumers,
} from '@ecom/common/postgres';

const logger = createLogger('pg-consumers-test', 'silent');

describeIfServer('postgres', 'subscribePgConsumers (PostgreSQL, in-memory bus)', () => {
  let db: TestPostgres;
  let pool: Pool;
  let bus: InMemoryEventBus;
  let consumers: ConsumerHandle | undefined;
  const seen: string[] = [];
  const afterCommit: (string | null)[] = [];
  const handled: string[] = [];
  const deadLettered: DeadLetter[] = [];

  beforeAll(async () => {
    db = await createTestPostgres('common_pg_consumers');
    pool = createPgPool(db.url, 5);
    await runMigrations(pool, [processedEventsMigration]);
    await pool.query('CREATE TABLE gone (product_id text PRIMARY KEY)');
  });
  afterAll(async () => {
    await pool.end();
    await db.cleanup();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE gone, processed_events');
    seen.length = 0;
    afterCommit.length = 0;
    handled.length = 0;
    deadLettered.length = 0;
    bus = new InMemoryEventBus({ logger, retry: { maxAttempts: 2, baseDelayMs: 5 } });
    consumers = await subscribePgConsumers({
      bus,
      pool,
      group: 'widgets',
      logger,
      observer: {
        handled: (group, type, outcome) => void handled.push(`${group} ${type} ${outcome}`),
        deadLettered: (d) => void deadLettered.push(d),
      },
      handlers: {
        'product.deleted': async (client, event) => {
          const { productId } = event.data;
          if (productId === 'boom') throw new Error('handler failed');
          await client.query('INSERT INTO gone (product_id) VALUES ($1)', [productId]);
          seen.push(productId);
          return productId === 'quiet' ? null : `follow-up ${productId}`;
        },
      },
      afterCommit: async (result) => void afterCommit.push(result),
    });
  });
  afterEach(async () => {
    await consumers?.stop();
    await bus.close();
  });

  const rows = async () =>
    (await pool.query('SELECT product_id FROM gone ORDER BY product_id')).rows.map(
      (r: { product_id: string }) => r.product_id,
    );

  it('runs the handler once per event id with the checked payload, then afterCommit', async () => {
    const event = createEvent('test', 'product.deleted', { productId: 'p1' });
    await bus.publish(event);
    await bus.publish(event); // redelivery of the same event id
    await bus.idle();
    expect(await rows()).toEqual(['p1']);
    expect(seen).toEqual(['p1']);
    expect(afterCommit).toEqual(['follow-up p1']);
    expect(handled.sort()).toEqual([
      'widgets product.deleted duplicate',
      'widgets product.deleted handled',
    ]);
    const { rows: processed } = await pool.query('SELECT consumer, event_id FROM processed_events');
    expect(processed).toEqual([{ consumer: 'widgets', event_id: event.eventId }]);
  });

  it('acknowledges what its skip rule picks without the handler or a transaction, counted skipped', async () => {
    const outcomes: string[] = [];
    const ran: string[] = [];
    let checkouts = 0;
    const checkedOut = () => void (checkouts += 1);
    pool.on('acquire', checkedOut);
    const skipping = await subscribePgConsumers({
      bus,
      pool,
      group: 'skipping',
      logger,
      observer: { handled: (_g, type, outcome) => void outcomes.push(`${type} ${outcome}`) },
      handlers: {
        'product.updated': async (client, event) => {
          await client.query('INSERT INTO gone (product_id) VALUES ($1)', [event.data.productId]);
          ran.push(event.data.productId);
        },
      },
      // The rule sees the checked payload, typed by the contract.
      skip: { 'product.updated': (event) => event.data.changes.length === 0 },
    });
    try {
      const price = { amount: 100, currency: 'USD' };
      const idle = createEvent('test', 'product.updated', {
        productId: 'idle',
        changes: [],
        price,
      });
      const kept = createEvent('test', 'product.updated', {
        productId: 'kept',
        changes: ['price'],
        price,
      });
      await bus.publish(idle);
      await bus.publish(kept);
      await bus.idle();
      expect(ran).toEqual(['kept']);
      expect(outcomes).toEqual(['product.updated skipped', 'product.updated handled']);
      // Only the kept one took a connection and left its id.
      expect(checkouts).toBe(1);
      const { rows: processed } = await pool.query(
        "SELECT event_id FROM processed_events WHERE consumer = 'skipping'",
      );
      expect(processed).toEqual([{ event_id: kept.eventId }]);
      expect(bus.deadLetters).toEqual([]);
    } finally {
      pool.off('acquire', checkedOut);
      await skipping.stop();
    }
  });

  it('passes what the handler returned, null included, to afterCommit', async () => {
    await bus.publish(createEvent('test', 'product.deleted', { productId: 'quiet' }));
    await bus.idle();
    expect(afterCommit).toEqual([null]);
  });

  it('dead-letters a payload that breaks its contract at once, with the reason, and counts it', async () => {
    await bus.publish(createEvent('test', 'product.deleted', { productId: 42 }));
    await bus.idle();
    expect(seen).toEqual([]);
    expect(afterCommit).toEqual([]);
    expect(bus.deadLetters.map((d) => [d.attempts, d.reason])).toEqual([
      [1, 'invalid product.deleted payload: productId: string.base'],
    ]);
    expect(deadLettered.map((d) => d.event?.eventType)).toEqual(['product.deleted']);
    expect((await pool.query('SELECT 1 FROM processed_events')).rowCount).toBe(0);
  });

  it('tolerates fields the contract does not know (a publisher may add one first)', async () => {
    await bus.publish(createEvent('test', 'product.deleted', { productId: 'p2', extra: true }));
    await bus.idle();
    expect(seen).toEqual(['p2']);
  });

  it('rolls a failing handler back (id not recorded) so the bus retries, then dead-letters', async () => {
    await bus.publish(createEvent('test', 'product.deleted', { productId: 'boom' }));
    await bus.idle();
    expect(afterCommit).toEqual([]);
    expect(bus.deadLetters.map((d) => [d.attempts, d.reason])).toEqual([
      [2, expect.stringMatching(/handler failed/)],
    ]);
    expect((await pool.query('SELECT 1 FROM processed_events')).rowCount).toBe(0);
  });

  it('subscribes only to the mapped types and refuses deliveries after stop()', async () => {
    await bus.publish(createEvent('test', 'user.deleted', { userId: 'x' }));
    await bus.idle();
    expect(seen).toEqual([]);
    await consumers?.stop();
    await bus.publish(createEvent('test', 'product.deleted', { productId: 'late' }));
    await bus.idle();
    expect(await rows()).toEqual([]);
    expect(bus.deadLetters.map((d) => d.reason)).toEqual([
      expect.stringMatching(/widgets consumer is stopped/),
    ]);
  });
});

describeIfServer('postgres', 'subscribePgConsumers while PostgreSQL is away', () => {
  let db: TestPostgres;
  let relay: TcpRelay;
  let pool: Pool;
  let bus: InMemoryEventBus;
  let consumers: ConsumerHandle;
  const deadLettered: DeadLetter[] = [];

  beforeAll(async () => {
    db = await createTestPostgres('common_pg_consumers_outage');
    relay = await startTcpRelay(db.url);
    pool = createPgPool(relay.relayed(db.url), 3);
    await runMigrations(pool, [processedEventsMigration]);
    await pool.query('CREATE TABLE gone (product_id text PRIMARY KEY)');
    // Three deliveries within ~30 ms: without holding, an outage of seconds dead-letters.
    bus = new InMemoryEventBus({ logger, retry: { maxAttempts: 3, baseDelayMs: 10 } });
    consumers = await subscribePgConsumers({
      bus,
      pool,
      group: 'widgets',
      logger,
      holdWhileDownMs: 30_000,
      observer: { deadLettered: (d) => void deadLettered.push(d) },
      handlers: {
        'product.deleted': async (client, event) => {
          await client.query('INSERT INTO gone (product_id) VALUES ($1)', [event.data.productId]);
        },
      },
    });
  });
  afterAll(async () => {
    await consumers.stop();
    await bus.close();
    relay.restore();
    await pool.end();
    await relay.close();
    await db.cleanup();
  });

  it('holds a delivery while its store is down, instead of spending its retry budget, and handles it once the store is back', async () => {
    relay.cut();
    await bus.publish(createEvent('product', 'product.deleted', { productId: 'p-outage' }));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(deadLettered).toEqual([]);
    relay.restore();
    await eventually(
      async () =>
        (await pool.query("SELECT 1 FROM gone WHERE product_id = 'p-outage'")).rowCount === 1,
      { what: 'handled after the store came back', timeoutMs: 15_000 },
    );
    await bus.idle();
    expect(deadLettered).toEqual([]);
  });
});
