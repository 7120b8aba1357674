/**
 * What a page of the public anchoring log costs as the log grows: `npm run bench -w common`,
 * with POSTGRES_URL set. Builds a throw-away database of PUBLIC_LOG_ENTRIES anchored entries
 * (default 1,000,000, each with its signed promise, in batches of 500), then times a page of
 * 100 at the start, the middle and the end of the log, read by cursor as the routes read it
 * (docs/adr/0051-public-logs-are-read-by-cursor.md), beside the paged form the routes used
 * before (a count of the log and an OFFSET, run here as SQL). Then walks the whole promises log
 * by cursor, as a monitor does. Writes the "Public log pages" section of docs/benchmarks.md.
 */
import type { Pool } from 'pg';
import {
  createTestPostgres,
  loadAverage,
  measuredOn,
  runBench,
  writeBenchSection,
} from '@ecom/test-support';
import { anchorMigrations, LEAVES_PER_LOG_PAGE, PgAnchorStore } from '../src/anchoring';
import type { LogSlice } from '../src/http/conventions';
import { createPgPool, runMigrations } from '../src/postgres';

const ENTRIES = Number(process.env.PUBLIC_LOG_ENTRIES ?? 1_000_000);
const PER_BATCH = 500;
const LIMIT = 100;
const ROUNDS = 5;

/** Median wall milliseconds of `fn` over ROUNDS calls, after one to warm the cache. */
async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
}

async function fill(pool: Pool): Promise<void> {
  const batches = Math.ceil(ENTRIES / PER_BATCH);
  await pool.query(
    `INSERT INTO anchor_batches (id, on_chain_id, root, previous_root, record_count, status)
     SELECT gen_random_uuid(), 'b' || g, '0x' || md5(g::text), '0x' || md5((g - 1)::text), $2,
            CASE WHEN g > $1 - 2 THEN 'pending' ELSE 'confirmed' END
       FROM generate_series(1, $1) g`,
    [batches, PER_BATCH],
  );
  // Entries shaped like the saga's: a canonical document of about 900 characters and a promise.
  await pool.query(
    `INSERT INTO anchor_records (record_type, record_id, source_id, version, salt, leaf,
       canonical, batch_id, sequence, previous_leaf, record_key, promise)
     SELECT 'order', 'o' || (g / 3), 's' || g, 2, md5(g::text), '0x' || md5(g::text) || md5(g::text),
            repeat('x', 900), b.id, g % 3, '0x' || md5((g - 1)::text), '0x' || md5('k' || g),
            jsonb_build_object('type', 'ecom.anchor-promise', 'version', 1, 'chainId', 31337,
              'signer', '0x' || md5('s'), 'recordType', 'order', 'recordId', 'o' || (g / 3),
              'recordKey', '0x' || md5('k' || g) || md5('k' || g), 'sequence', g % 3,
              'leaf', '0x' || md5(g::text) || md5(g::text), 'deadline', 1800000000,
              'signature', '0x' || repeat(md5('a' || g), 4) || '1b')
       FROM generate_series(1, $1) g
       JOIN anchor_batches b ON b.seq = 1 + (g - 1) / $2`,
    [ENTRIES, PER_BATCH],
  );
  // What each batch anchored, as createBatch writes it: the batches log serves these leaves.
  await pool.query(
    `INSERT INTO anchor_batch_leaves (batch_id, position, leaf, record_key, sequence)
     SELECT batch_id, ((id - 1) % $1)::int, leaf, record_key, sequence FROM anchor_records`,
    [PER_BATCH],
  );
  await pool.query('VACUUM ANALYZE anchor_records');
  await pool.query('VACUUM ANALYZE anchor_batch_leaves');
  await pool.query('VACUUM ANALYZE anchor_batches');
}

async function main() {
  if (!process.env.POSTGRES_URL) {
    process.stdout.write('Public log bench skipped: POSTGRES_URL is not set\n');
    return;
  }
  const loadBefore = loadAverage();
  const db = await createTestPostgres('bench_public_log');
  const pool = createPgPool(db.url, 2);
  try {
    await runMigrations(pool, anchorMigrations);
    const filled = Date.now();
    await fill(pool);
    const fillSeconds = (Date.now() - filled) / 1000;
    const store = new PgAnchorStore(pool);
    const batches = Math.ceil(ENTRIES / PER_BATCH);

    // What one page cost before: the count and the OFFSET, sent together as the routes did
    // (and, for batches, their leaves read after them, as today).
    const paged = async (table: 'records' | 'batches', offset: number) => {
      if (table === 'records') {
        return Promise.all([
          pool.query(
            'SELECT promise FROM anchor_records WHERE promise IS NOT NULL ORDER BY id LIMIT $1 OFFSET $2',
            [LIMIT, offset],
          ),
          pool.query('SELECT count(*) FROM anchor_records WHERE promise IS NOT NULL'),
        ]);
      }
      const [{ rows: read }] = await Promise.all([
        pool.query<{ id: string }>('SELECT * FROM anchor_batches ORDER BY seq LIMIT $1 OFFSET $2', [
          LIMIT,
          offset,
        ]),
        pool.query('SELECT count(*) FROM anchor_batches'),
      ]);
      return pool.query(
        `SELECT batch_id, leaf, record_key, sequence FROM anchor_batch_leaves
          WHERE batch_id = ANY($1::uuid[]) ORDER BY batch_id, position`,
        [read.map((b) => b.id)],
      );
    };

    const rows: string[] = [];
    const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
    for (const [where, share] of [
      ['start', 0],
      ['middle', 0.5],
      ['end', 1],
    ] as const) {
      const promiseAt = Math.max(0, Math.floor(ENTRIES * share) - LIMIT);
      const batchAt = Math.max(0, Math.floor(batches * share) - LIMIT);
      // Entry ids and batch seqs run from 1 with no gap in this database.
      const cursorPromises = await median(() =>
        store.publishedPromises({ after: promiseAt, limit: LIMIT }),
      );
      const pagedPromises = await median(() => paged('records', promiseAt));
      const cursorBatches = await median(() =>
        store.publishedBatches({ after: batchAt, limit: LIMIT }),
      );
      const pagedBatches = await median(() => paged('batches', batchAt));
      rows.push(
        `| ${where} | ${ms(cursorPromises)} | ${ms(pagedPromises)} | ${ms(cursorBatches)} | ${ms(pagedBatches)} |`,
      );
    }

    // A monitor's walk of both logs, by cursor.
    const walk = async <T>(read: (p: { after: number; limit: number }) => Promise<LogSlice<T>>) => {
      const start = process.hrtime.bigint();
      let pages = 0;
      let items = 0;
      for (let after = 0; ;) {
        const page = await read({ after, limit: LIMIT });
        pages++;
        items += page.items.length;
        if (!page.hasMore) break;
        after = page.next;
      }
      return { pages, items, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
    };
    const promiseWalk = await walk((p) => store.publishedPromises(p));
    const batchWalk = await walk((p) => store.publishedBatches(p));
    const count = (n: number) => n.toLocaleString('en-US');

    writeBenchSection('public-log', 'Public log pages', [
      `${measuredOn()}. Load average before: ${loadBefore}; after: ${loadAverage()}.`,
      'Script: `npm run bench -w common` (`common/bench/public-log-bench.ts`).',
      '',
      `A throw-away database of ${ENTRIES.toLocaleString('en-US')} anchored entries, each with its signed promise (about 1.5 kB a row), in ${batches.toLocaleString('en-US')} batches of ${PER_BATCH} (built in ${fillSeconds.toFixed(0)} s). Wall milliseconds for a page of ${LIMIT}, the median of ${ROUNDS} calls after one to warm the cache, on the machine's PostgreSQL. "By cursor" is how \`/log\` and \`/log/promises\` read today (\`after=next\`, ADR 0051); "paged" is the count and the \`OFFSET\` they ran before, sent together on two connections. A page of batches by cursor stops at ${count(LEAVES_PER_LOG_PAGE)} leaves (${LEAVES_PER_LOG_PAGE / PER_BATCH} batches here); paged, it held ${LIMIT} batches (${count(LIMIT * PER_BATCH)} leaves).`,
      '',
      '| where in the log | promises by cursor ms | promises paged ms | batches by cursor ms | batches paged ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows,
      '',
      `Walks of the whole log by cursor, one page at a time, as a monitor reads it: ${count(promiseWalk.items)} promises in ${count(promiseWalk.pages)} pages, ${promiseWalk.seconds.toFixed(1)} s; ${count(batchWalk.items)} batches in ${count(batchWalk.pages)} pages, ${batchWalk.seconds.toFixed(1)} s.`,
    ]);
  } finally {
    await pool.end();
    await db.cleanup();
  }
}

runBench('Public log bench', main);
