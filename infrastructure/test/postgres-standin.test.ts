import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Pool } from 'pg';
import { createEvent, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import {
  OutboxRelay,
  PreparedQuery,
  addToOutbox,
  createPgPool,
  outboxMigrations,
  runMigrations,
  withTransaction,
} from '@ecom/common/postgres';
import { startPostgresStandIn, type PostgresStandIn } from '@ecom/infrastructure/postgres';

/**
 * PGlite behind pglite-socket, reached by pg pools as the payment and order services do there:
 * statements written out, never prepared (the launcher's DATABASE_PREPARED_STATEMENTS=false).
 */
let pg: PostgresStandIn;
let pool: Pool;

// PGlite's start (WASM compile + initdb) takes seconds, more on a loaded machine.
const PGLITE_START_MS = 120_000;

beforeAll(async () => {
  pg = await startPostgresStandIn({ database: 'order_db', maxConnections: 20 });
  pool = createPgPool(pg.url, 10, undefined, { preparedStatements: false });
}, PGLITE_START_MS);

afterAll(async () => {
  await pool?.end();
  await pg?.stop();
});

describe('PGlite stand-in over the wire', () => {
  it('gives a postgres URL a pg Pool connects to', async () => {
    expect(pg.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/order_db$/);
    const { rows } = await pool.query<{ v: string }>('SELECT version() AS v');
    expect(rows[0].v).toMatch(/PostgreSQL 1\d/);
  });

  it('commits and rolls back transactions', async () => {
    await pool.query(
      'CREATE TABLE accounts (id int PRIMARY KEY, balance numeric(12,2) NOT NULL CHECK (balance >= 0))',
    );
    await pool.query("INSERT INTO accounts VALUES (1, '100.00'), (2, '0.00')");
    await withTransaction(pool, async (c) => {
      await c.query('UPDATE accounts SET balance = balance - 30.10 WHERE id = 1');
      await c.query('UPDATE accounts SET balance = balance + 30.10 WHERE id = 2');
    });
    await expect(
      withTransaction(pool, async (c) => {
        await c.query('UPDATE accounts SET balance = balance + 1000 WHERE id = 2');
        await c.query('UPDATE accounts SET balance = balance - 1000 WHERE id = 1'); // violates CHECK
      }),
    ).rejects.toThrow(/check constraint/);
    const { rows } = await pool.query<{ id: number; balance: string }>(
      'SELECT id, balance FROM accounts ORDER BY id',
    );
    expect(rows).toEqual([
      { id: 1, balance: '69.90' },
      { id: 2, balance: '30.10' },
    ]);
  });

  it('serves many concurrent clients without losing updates', async () => {
    await pool.query('CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)');
    await pool.query('INSERT INTO counters VALUES (1, 0)');
    await Promise.all(
      Array.from({ length: 40 }, () =>
        withTransaction(pool, async (c) => {
          const { rows } = await c.query<{ n: number }>(
            'SELECT n FROM counters WHERE id = 1 FOR UPDATE',
          );
          await c.query('UPDATE counters SET n = $1 WHERE id = 1', [rows[0].n + 1]);
        }),
      ),
    );
    const { rows } = await pool.query<{ n: number }>('SELECT n FROM counters WHERE id = 1');
    expect(rows[0].n).toBe(40);
  });

  it("keeps each connection's parameterised queries apart while others run transactions", async () => {
    // pg sends Parse/Bind/Execute/Sync per query; interleaved on PGlite's one session they
    // used to run each other's statements ("portal does not exist", wrong rows).
    await pool.query('CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)');
    for (let i = 0; i < 50; i++) await pool.query('INSERT INTO kv VALUES ($1, $2)', [i, `v${i}`]);
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const id = i % 50;
        if (i % 4 === 0) {
          await withTransaction(pool, (c) =>
            c.query('UPDATE kv SET v = $1 WHERE id = $2', [`v${id}`, id]),
          );
          return true;
        }
        const { rows } = await pool.query<{ v: string }>('SELECT v FROM kv WHERE id = $1', [id]);
        return rows.length === 1 && rows[0].v === `v${id}`;
      }),
    );
    expect(outcomes.every(Boolean)).toBe(true);
  });

  it('keeps named prepared statements per connection, and drops them with it', async () => {
    // PostgreSQL scopes a statement name to its connection; PGlite has one session for all.
    const a = new Client({ connectionString: pg.url });
    const b = new Client({ connectionString: pg.url });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const [textA, textB] = ['SELECT $1::int + 1 AS v', "SELECT $1::text || '!' AS v"];
      const byA = await a.query({ name: 'same', text: textA, values: [1] });
      const byB = await b.query({ name: 'same', text: textB, values: ['b'] });
      expect(byA.rows).toEqual([{ v: 2 }]);
      expect(byB.rows).toEqual([{ v: 'b!' }]);
      // Each runs its own again (pg sends only Bind and Execute for a name it prepared).
      expect((await a.query({ name: 'same', text: textA, values: [41] })).rows).toEqual([
        { v: 42 },
      ]);
      expect((await b.query({ name: 'same', text: textB, values: ['c'] })).rows).toEqual([
        { v: 'c!' },
      ]);
    } finally {
      await a.end();
    }
    const kept = async () =>
      (
        await b.query<{ statement: string }>(
          "SELECT statement FROM pg_prepared_statements WHERE name LIKE '%\\_same'",
        )
      ).rows.map((r) => r.statement);
    // A closed connection is cleaned up as its socket closes, a moment after end() returns.
    const settled = async <T>(read: () => Promise<T>, want: T): Promise<T> => {
      let seen = await read();
      for (let i = 0; i < 100 && JSON.stringify(seen) !== JSON.stringify(want); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = await read();
      }
      return seen;
    };
    expect(await settled(kept, ["SELECT $1::text || '!' AS v"])).toEqual([
      "SELECT $1::text || '!' AS v",
    ]);
    await b.end();
    const other = new Client({ connectionString: pg.url });
    await other.connect();
    try {
      const left = async () =>
        (await other.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements'))
          .rows[0].n;
      expect(await settled(left, 0)).toBe(0);
    } finally {
      await other.end();
    }
  });

  it('a statement another connection PREPAREd in a simple query makes this one write its statements out (one session)', async () => {
    // A pool nobody told the session is shared.
    const unaware = new Pool({ connectionString: pg.url, max: 2 });
    const [a, b] = [await unaware.connect(), await unaware.connect()];
    try {
      const statement = { text: 'SELECT $1::int + 1 AS n', values: [41] };
      const first = new PreparedQuery(a);
      const [answer] = await first.sent(a.query(first.query([first.sql(statement)!])));
      expect(answer!.rows).toEqual([{ n: 42 }]);
      // PostgreSQL would give b a session of its own; PGlite's is shared, name and all.
      const second = new PreparedQuery(b);
      await expect(second.sent(b.query(second.query([second.sql(statement)!])))).rejects.toThrow(
        /already exists/,
      );
      expect(new PreparedQuery(b).sql(statement)).toBeNull();
      expect(new PreparedQuery(a).sql(statement)).toMatch(/^EXECUTE /);
    } finally {
      a.release();
      b.release();
      await unaware.end();
    }
  });

  it('FOR UPDATE SKIP LOCKED hands each row to exactly one of several workers', async () => {
    await pool.query('CREATE TABLE jobs (id serial PRIMARY KEY, taken_by int)');
    await pool.query('INSERT INTO jobs (taken_by) SELECT NULL FROM generate_series(1, 30)');
    const claim = (worker: number): Promise<number[]> =>
      withTransaction(pool, async (c) => {
        const { rows } = await c.query<{ id: number }>(
          'SELECT id FROM jobs WHERE taken_by IS NULL ORDER BY id LIMIT 4 FOR UPDATE SKIP LOCKED',
        );
        await c.query('UPDATE jobs SET taken_by = $1 WHERE id = ANY($2)', [
          worker,
          rows.map((r) => r.id),
        ]);
        return rows.map((r) => r.id);
      });
    const claimed = (await Promise.all(Array.from({ length: 8 }, (_, w) => claim(w + 1)))).flat();
    expect(claimed).toHaveLength(30);
    expect(new Set(claimed).size).toBe(30);
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE taken_by IS NULL',
    );
    expect(rows[0].n).toBe(0);
  });

  it('runs the migrations runner (each migration once, none on a second start)', async () => {
    // One instance per database: PGlite has one backend session, so the runner's session
    // advisory lock does not exclude a second concurrent runner (see README).
    const migrations = [
      ...outboxMigrations,
      { id: '001_orders', sql: 'CREATE TABLE orders (id uuid PRIMARY KEY, status text NOT NULL)' },
      { id: '002_order_status_idx', sql: 'CREATE INDEX orders_status ON orders (status)' },
    ];
    expect(await runMigrations(pool, migrations.slice(0, 3))).toEqual([
      '000_outbox',
      '000_outbox_due',
      '001_orders',
    ]);
    expect(await runMigrations(pool, migrations)).toEqual(['002_order_status_idx']);
    expect(await runMigrations(pool, migrations)).toEqual([]);
    const broken = [...migrations, { id: '003_broken', sql: 'ALTER TABLE nope ADD COLUMN x int' }];
    await expect(runMigrations(pool, broken)).rejects.toThrow(/003_broken failed/);
    const { rows } = await pool.query<{ id: string }>(
      'SELECT id FROM schema_migrations ORDER BY id',
    );
    expect(rows.map((r) => r.id)).toEqual([
      '000_outbox',
      '000_outbox_due',
      '001_orders',
      '002_order_status_idx',
    ]);
  });

  it('publishes outbox rows of committed transactions only, once each, with two relays', async () => {
    const published: EventEnvelope[] = [];
    const bus: EventBus = {
      durable: true,
      publish: async (e) => void published.push(e),
      subscribe: async () => undefined,
      health: async () => undefined,
      close: async () => undefined,
      listDeadLetters: async () => [],
      replayDeadLetters: async () => ({ replayed: 0, skipped: 0 }),
      discardDeadLetters: async () => ({ discarded: 0 }),
    };
    const logger = createLogger('outbox-test', 'silent');
    const committed = Array.from({ length: 12 }, (_, i) =>
      createEvent('order-service', 'order.created', { i }),
    );
    for (const event of committed) {
      await withTransaction(pool, async (c) => {
        await c.query("INSERT INTO orders (id, status) VALUES (gen_random_uuid(), 'PENDING')");
        await addToOutbox(c, event);
      });
    }
    const rolledBack = createEvent('order-service', 'order.created', { i: -1 });
    await expect(
      withTransaction(pool, async (c) => {
        await addToOutbox(c, rolledBack);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');

    const relays = [1, 2].map(() => new OutboxRelay({ pool, bus, logger, batchSize: 5 }));
    await Promise.all(relays.map((r) => r.flush()));
    await Promise.all(relays.map((r) => r.flush()));
    expect(published.map((e) => e.eventId).sort()).toEqual(committed.map((e) => e.eventId).sort());
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM event_outbox WHERE sent_at IS NULL',
    );
    expect(rows[0].n).toBe(0);
    expect(await pool.query('SELECT count(*)::int AS n FROM orders')).toMatchObject({
      rows: [{ n: 12 }],
    });
  });
});

describe('PGlite stand-in with a data directory', () => {
  it(
    'keeps its data across a restart',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pglite-standin-'));
      try {
        const first = await startPostgresStandIn({ dataDir: dir, database: 'payment_db' });
        const p1 = new Pool({ connectionString: first.url, max: 2 });
        await p1.query('CREATE TABLE payments (id text PRIMARY KEY, amount_minor bigint NOT NULL)');
        await p1.query("INSERT INTO payments VALUES ('pay_1', 1999)");
        await p1.end();
        await first.stop();

        const second = await startPostgresStandIn({ dataDir: dir, database: 'payment_db' });
        const p2 = new Pool({ connectionString: second.url, max: 2 });
        try {
          const { rows } = await p2.query('SELECT id, amount_minor::int AS amount FROM payments');
          expect(rows).toEqual([{ id: 'pay_1', amount: 1999 }]);
        } finally {
          await p2.end();
          await second.stop();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    2 * PGLITE_START_MS,
  );
});
