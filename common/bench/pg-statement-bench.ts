/**
 * What a parameterised statement costs PostgreSQL and its caller, sent four ways: written out
 * with its values as literals in a simple query (how a statement travels with others in one
 * round trip), as `EXECUTE` of a statement prepared on the connection in a simple query (how
 * anchored writes and their reads travel, docs/adr/0048), unnamed (pg's default: parsed and
 * planned on every call) and as pg's named prepared statement (extended protocol, plan cached):
 * `npm run bench -w common`, with POSTGRES_URL set and the server on this machine (its
 * backend's CPU is read from /proc). docs/adr/0033 tells why the services do not use pg's named
 * statements: each needs a round trip of its own.
 *
 * The statements are shaped like the saga's in order: the move of an order with its history row
 * in one CTE, the read of an order with its lines as JSON, a read by primary key, an insert.
 * Per statement and way: the server backend's CPU per call, this process's CPU per call and the
 * wall time per call, one call at a time on one connection, after a warm-up, two interleaved
 * rounds (the quieter kept). Writes the "PostgreSQL statements" section of docs/benchmarks.md.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import {
  createTestPostgres,
  loadAverage,
  measuredOn,
  runBench,
  writeBenchSection,
} from '@ecom/test-support';
import { ownCpu } from '../../platform/bench/proc-cpu';
import { createPgPool } from '../src/postgres';
import { inlineParameters } from '../src/postgres/inline';
import { PreparedQuery } from '../src/postgres/prepared';

const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const WARM_UP = 200;
const ORDERS = 200;

const SCHEMA = `
CREATE TABLE orders (
  id uuid PRIMARY KEY, user_id uuid NOT NULL, status text NOT NULL, currency char(3) NOT NULL,
  total_cents bigint NOT NULL, payment_method text, shipping_address jsonb NOT NULL,
  failure_reason text, updated_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_items (
  order_id uuid NOT NULL REFERENCES orders(id), line_no int NOT NULL, product_id text NOT NULL,
  name text NOT NULL, quantity int NOT NULL, unit_price_cents bigint NOT NULL,
  line_total_cents bigint NOT NULL, PRIMARY KEY (order_id, line_no));
CREATE TABLE order_history (
  id bigserial PRIMARY KEY, order_id uuid NOT NULL, from_status text, to_status text NOT NULL,
  cause_type text NOT NULL, cause_id text, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE processed (consumer text, event_id uuid, PRIMARY KEY (consumer, event_id));
`;

/** [label, text, values for the i-th call] */
const STATEMENTS: Array<[string, string, (id: string, i: number) => unknown[]]> = [
  [
    'move an order and write its history (CTE)',
    `WITH prev AS (SELECT id, status FROM orders WHERE id = $1 FOR UPDATE),
     moved AS (UPDATE orders o SET status = $3, updated_at = clock_timestamp(), failure_reason = $5
               FROM prev WHERE o.id = prev.id AND prev.status = ANY($2::text[])
               RETURNING o.id, prev.status AS from_status, o.status),
     h AS (INSERT INTO order_history (order_id, from_status, to_status, cause_type, cause_id)
           SELECT id, from_status, status, 'event', $4 FROM moved RETURNING id)
     SELECT m.id, m.from_status, m.status, (SELECT count(*) FROM h) AS written FROM moved m`,
    (id, i) => [id, ['PENDING', 'CONFIRMED'], i % 2 ? 'PENDING' : 'CONFIRMED', randomUUID(), null],
  ],
  [
    'read an order with its lines as JSON',
    `SELECT o.*, (SELECT coalesce(json_agg(json_build_object('line_no', i.line_no,
       'product_id', i.product_id, 'name', i.name, 'quantity', i.quantity,
       'unit_price_cents', i.unit_price_cents::text, 'line_total_cents', i.line_total_cents::text)
       ORDER BY i.line_no), '[]') FROM order_items i WHERE i.order_id = o.id) AS items
     FROM orders o WHERE o.id = $1`,
    (id) => [id],
  ],
  [
    'read one column by primary key',
    'SELECT payment_method FROM orders WHERE id = $1',
    (id) => [id],
  ],
  [
    'insert a row',
    'INSERT INTO processed (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    () => ['bench', randomUUID()],
  ],
];

/** CPU time of a process in µs, or undefined where /proc does not have it (another host). */
function procCpuUs(pid: number): number | undefined {
  try {
    return ownCpu(pid) * 1e6;
  } catch {
    return undefined;
  }
}

interface Figures {
  serverUs?: number;
  callerUs: number;
  wallUs: number;
}

const WAYS = ['written out', 'EXECUTE', 'unnamed', 'named'] as const;
type Way = (typeof WAYS)[number];

async function measure(
  pool: Pool,
  way: Way,
  name: string,
  text: string,
  values: (id: string, i: number) => unknown[],
  ids: string[],
): Promise<Figures> {
  const client = await pool.connect();
  const call = async (v: unknown[]): Promise<unknown> => {
    if (way === 'written out') return client.query(inlineParameters(text, v)!);
    if (way === 'EXECUTE') {
      const prepared = new PreparedQuery(client);
      return prepared.sent(client.query(prepared.sql({ text, values: v })!));
    }
    return client.query({ name: way === 'named' ? name : undefined, text, values: v });
  };
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
      .pid;
    for (let i = 0; i < WARM_UP; i++) await call(values(ids[i % ORDERS]!, i));
    const server = procCpuUs(pid);
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) await call(values(ids[i % ORDERS]!, i));
    const wallNs = Number(process.hrtime.bigint() - start);
    const used = process.cpuUsage(cpu);
    const serverAfter = procCpuUs(pid);
    return {
      serverUs:
        server === undefined || serverAfter === undefined
          ? undefined
          : (serverAfter - server) / CALLS,
      callerUs: (used.user + used.system) / CALLS,
      wallUs: wallNs / 1000 / CALLS,
    };
  } finally {
    client.release();
  }
}

async function main() {
  if (!process.env.POSTGRES_URL) {
    process.stdout.write('PostgreSQL statement bench skipped: POSTGRES_URL is not set\n');
    return;
  }
  const loadBefore = loadAverage();
  const db = await createTestPostgres('bench_pg_statements');
  const pool = createPgPool(db.url, 1);
  const ids: string[] = [];
  try {
    await pool.query(SCHEMA);
    for (let i = 0; i < ORDERS; i++) {
      const id = randomUUID();
      ids.push(id);
      await pool.query(
        `INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method, shipping_address)
         VALUES ($1, $1, 'PENDING', 'EUR', 1999, 'card', '{"city":"Lyon"}')`,
        [id],
      );
      await pool.query(`INSERT INTO order_items VALUES ($1, 1, 'p1', 'Lamp', 1, 1999, 1999)`, [id]);
    }
    const rows: string[] = [];
    for (const [index, [label, text, values]] of STATEMENTS.entries()) {
      const best = new Map<Way, Figures>();
      // Two rounds, interleaved, so a slower stretch of the machine falls on every way.
      for (let round = 0; round < 2; round++) {
        for (const way of WAYS) {
          const r = await measure(pool, way, `bench_${index}`, text, values, ids);
          const seen = best.get(way);
          if (!seen || (r.serverUs ?? r.callerUs) < (seen.serverUs ?? seen.callerUs))
            best.set(way, r);
        }
      }
      const us = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(0));
      const each = (pick: (f: Figures) => number | undefined) =>
        WAYS.map((w) => us(pick(best.get(w)!))).join(' / ');
      rows.push(
        `| ${label} | ${each((f) => f.serverUs)} | ${each((f) => f.callerUs)} | ${each((f) => f.wallUs)} |`,
      );
    }
    writeBenchSection('pg-statements', 'PostgreSQL statements', [
      `${measuredOn()}. Load average before: ${loadBefore}; after: ${loadAverage()}.`,
      'Script: `npm run bench -w common` (`common/bench/pg-statement-bench.ts`).',
      '',
      `Statements shaped like order's saga steps, one call at a time on one connection to the machine's PostgreSQL, ${CALLS} calls after ${WARM_UP} to warm up, two interleaved rounds, the quieter kept. Each cell gives four ways: written out (the values as literals in a simple query, parsed and planned on every call: how a statement travels with others in one round trip) / EXECUTE (prepared on the connection once, run with literals in a simple query: how anchored writes and their reads travel, ADR 0048) / unnamed (pg's default extended protocol: parsed and planned on every call) / named (pg's \`name\`: parsed once per connection, its plan cached; a round trip of its own). Server CPU is the connection's backend process (from /proc), caller CPU this process's.`,
      '',
      '| statement | server CPU µs per call | caller CPU µs per call | wall µs per call |',
      '| --- | ---: | ---: | ---: |',
      ...rows,
    ]);
  } finally {
    await pool.end();
    await db.cleanup();
  }
}

runBench('PostgreSQL statement bench', main);
