import Joi from 'joi';
import type { Pool } from 'pg';
import {
  createTestPostgres,
  describeIfServer,
  type TestPostgres,
} from '@ecom/infrastructure/testing';
import {
  createEvent,
  createLogger,
  createPgPool,
  InMemoryEventBus,
  processedEventsMigration,
  runMigrations,
  subscribePgConsumers,
  type ConsumerHandle,
  type PgEventHandler,
} from '@ecom/common';

const logger = createLogger('pg-consumers-test', 'silent');

describeIfServer('postgres', 'subscribePgConsumers (PostgreSQL, in-memory bus)', () => {
  let db: TestPostgres;
  let pool: Pool;
  let bus: InMemoryEventBus;
  let consumers: ConsumerHandle | undefined;
  const seen: string[] = [];
  const afterCommit: (string | null)[] = [];

  const handlers: Record<string, PgEventHandler<string | null>> = {
    'widget.created': {
      // convert: the handler must get the validated value ("3" → 3), not the raw payload.
      schema: Joi.object({ name: Joi.string().required(), qty: Joi.number().integer() }).unknown(
        true,
      ),
      handle: async (client, event) => {
        const data = event.data as { name: string; qty?: number };
        if (data.name === 'boom') throw new Error('handler failed');
        await client.query('INSERT INTO widgets (name, qty) VALUES ($1, $2)', [
          data.name,
          data.qty ?? null,
        ]);
        seen.push(`${data.name}:${typeof data.qty}`);
        return data.name === 'quiet' ? null : `follow-up ${data.name}`;
      },
    },
  };

  beforeAll(async () => {
    db = await createTestPostgres('common_pg_consumers');
    pool = createPgPool(db.url, 5);
    await runMigrations(pool, [processedEventsMigration]);
    await pool.query('CREATE TABLE widgets (name text PRIMARY KEY, qty int)');
  });
  afterAll(async () => {
    await pool.end();
    await db.cleanup();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE widgets, processed_events');
    seen.length = 0;
    afterCommit.length = 0;
    bus = new InMemoryEventBus({ logger, retry: { maxAttempts: 2, baseDelayMs: 5 } });
    consumers = await subscribePgConsumers({
      bus,
      pool,
      group: 'widgets',
      handlers,
      logger,
      afterCommit: async (result) => void afterCommit.push(result),
    });
  });
  afterEach(async () => {
    await consumers?.stop();
    await bus.close();
  });

  const names = async () =>
    (await pool.query('SELECT name, qty FROM widgets ORDER BY name')).rows as {
      name: string;
      qty: number | null;
    }[];

  it('runs the handler once per event id with the validated payload, then afterCommit', async () => {
    const event = createEvent('test', 'widget.created', { name: 'a', qty: '3' });
    await bus.publish(event);
    await bus.publish(event); // redelivery of the same event id
    await bus.idle();
    expect(await names()).toEqual([{ name: 'a', qty: 3 }]);
    expect(seen).toEqual(['a:number']);
    expect(afterCommit).toEqual(['follow-up a']);
    const { rows } = await pool.query('SELECT consumer, event_id FROM processed_events');
    expect(rows).toEqual([{ consumer: 'widgets', event_id: event.eventId }]);
  });

  it('passes what the handler returned, null included, to afterCommit', async () => {
    await bus.publish(createEvent('test', 'widget.created', { name: 'quiet' }));
    await bus.idle();
    expect(afterCommit).toEqual([null]);
  });

  it('acknowledges an invalid payload without running the handler or recording it', async () => {
    await bus.publish(createEvent('test', 'widget.created', { qty: 1 }));
    await bus.idle();
    expect(seen).toEqual([]);
    expect(afterCommit).toEqual([]);
    expect(bus.deadLetters).toEqual([]);
    expect((await pool.query('SELECT 1 FROM processed_events')).rowCount).toBe(0);
  });

  it('rolls a failing handler back (id not recorded) so the bus retries, then dead-letters', async () => {
    await bus.publish(createEvent('test', 'widget.created', { name: 'boom' }));
    await bus.idle();
    expect(afterCommit).toEqual([]);
    expect(bus.deadLetters.map((d) => [d.attempts, d.reason])).toEqual([
      [2, expect.stringMatching(/handler failed/)],
    ]);
    expect((await pool.query('SELECT 1 FROM processed_events')).rowCount).toBe(0);
  });

  it('subscribes only to the mapped types and refuses deliveries after stop()', async () => {
    await bus.publish(createEvent('test', 'widget.deleted', { name: 'x' }));
    await bus.idle();
    expect(seen).toEqual([]);
    await consumers?.stop();
    await bus.publish(createEvent('test', 'widget.created', { name: 'late' }));
    await bus.idle();
    expect(await names()).toEqual([]);
    expect(bus.deadLetters.map((d) => d.reason)).toEqual([
      expect.stringMatching(/widgets consumer is stopped/),
    ]);
  });
});
