import type { Pool } from 'pg';
import { describeIfServer } from '@ecom/test-support';
import { LEAVES_PER_LOG_PAGE, type LogPage, type PgAnchorStore } from '../../src/anchoring';
import type { LogSlice } from '../../src/http/conventions';
import { anchorStoreOnDb, type AnchorStoreOnDb } from './store-support';

describeIfServer('postgres', 'the public log read by cursor (PostgreSQL)', () => {
  let on: AnchorStoreOnDb;
  let pool: Pool;
  let store: PgAnchorStore;

  beforeAll(async () => {
    // One connection: the statistics flushed below are this backend's own.
    on = await anchorStoreOnDb('common_anchor_public_log', 1);
    ({ pool, store } = on);
  });
  afterAll(() => on.close());

  /**
   * Entries i..i+n-1; those `promised` says carry a promise naming their number (as its
   * sequence) and their record id, which the public log must leave out.
   */
  async function entries(from: number, n: number, promised: (i: number) => boolean) {
    const values = Array.from({ length: n }, (_, k) => from + k);
    await pool.query(
      `INSERT INTO anchor_records
         (record_type, record_id, source_id, version, salt, leaf, canonical, sequence, promise)
       SELECT 'order', 'o' || i, 's' || i, 2, '0x00', '0x' || md5(i::text), '{}', 0,
              CASE WHEN p THEN jsonb_build_object('recordId', 'o' || i, 'sequence', i) END
         FROM unnest($1::int[], $2::bool[]) AS t(i, p)`,
      [values, values.map(promised)],
    );
  }

  async function walk<T>(
    read: (page: LogPage) => Promise<LogSlice<T>>,
    limit: number,
    after = 0,
  ): Promise<{ items: T[]; pages: LogSlice<T>[] }> {
    const pages: LogSlice<T>[] = [];
    for (;;) {
      const page = await read({ after, limit });
      pages.push(page);
      if (!page.hasMore) return { items: pages.flatMap((p) => p.items), pages };
      expect(page.next).toBeGreaterThan(after);
      after = page.next;
    }
  }

  /** Rows of anchor_records the store read (sequentially or through an index) during `fn`. */
  async function rowsRead(fn: () => Promise<unknown>): Promise<number> {
    const counters = async () => {
      await pool.query('SELECT pg_stat_force_next_flush()');
      await pool.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await pool.query<{ n: string }>(
        `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
           FROM pg_stat_user_tables WHERE relname = 'anchor_records'`,
      );
      return Number(rows[0]!.n);
    };
    const before = await counters();
    await fn();
    return (await counters()) - before;
  }

  it('walks every promise in the order written, skipping entries without one, and follows on', async () => {
    // Every seventh entry was written before promises existed.
    await entries(1, 25, (i) => i % 7 !== 0);
    const { items, pages } = await walk((p) => store.publishedPromises(p), 4);
    const expected = Array.from({ length: 25 }, (_, k) => k + 1)
      .filter((i) => i % 7 !== 0)
      .map((i) => ({ sequence: i }));
    // No record id: the log would otherwise list every order and payment (§3).
    expect(items).toEqual(expected);
    // A page reads `limit` entries: the one holding entry 7 has three promises.
    expect(pages.map((p) => p.items.length)).toEqual([4, 3, 4, 3, 4, 3, 1]);
    const last = pages.at(-1)!;
    expect(last.hasMore).toBe(false);

    // At the end the cursor stays where it is; new entries appear from it, none twice.
    const tail = await store.publishedPromises({ after: last.next, limit: 4 });
    expect(tail).toEqual({ items: [], next: last.next, hasMore: false });
    await entries(26, 2, () => true);
    const more = await store.publishedPromises({ after: last.next, limit: 4 });
    expect(more.items).toEqual([{ sequence: 26 }, { sequence: 27 }]);
    expect(more.hasMore).toBe(false);

    // 27 entries in pages of 9: the last page is full, and says there is no more.
    const exact = await walk((p) => store.publishedPromises(p), 9);
    expect(exact.pages.map((p) => p.hasMore)).toEqual([true, true, false]);
    expect(exact.items).toHaveLength(expected.length + 2);
  });

  it('reads no more rows deep in the log than at its start, and counts nothing', async () => {
    await entries(1000, 3000, () => true);
    const { rows } = await pool.query<{ id: string }>(
      'SELECT id FROM anchor_records ORDER BY id OFFSET 2500 LIMIT 1',
    );
    await pool.query('ANALYZE anchor_records');
    const deep = await rowsRead(() =>
      store.publishedPromises({ after: Number(rows[0]!.id), limit: 20 }),
    );
    const start = await rowsRead(() => store.publishedPromises({ after: 0, limit: 20 }));
    // The page and the row that says there is more; an OFFSET or a count reads thousands.
    expect(deep).toBeLessThanOrEqual(21);
    expect(start).toBeLessThanOrEqual(21);
  });

  it('walks the batches by seq, each with its leaves', async () => {
    await pool.query('TRUNCATE anchor_records, anchor_batch_leaves, anchor_batches');
    await entries(1, 5, () => true);
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM anchor_records ORDER BY id');
    const made: string[] = [];
    for (const r of rows) made.push(await on.batch([r.id]));
    const { items, pages } = await walk((p) => store.publishedBatches(p), 2);
    expect(items.map((b) => b.batchId)).toEqual(made);
    expect(items.every((b) => b.leaves.length === 1)).toBe(true);
    expect(pages.map((p) => p.items.length)).toEqual([2, 2, 1]);
    // The cursor is the batch's public seq.
    expect(pages.map((p) => p.next)).toEqual([items[1]!.seq, items[3]!.seq, items[4]!.seq]);
    const after = await store.publishedBatches({ after: items[4]!.seq, limit: 2 });
    expect(after).toEqual({ items: [], next: items[4]!.seq, hasMore: false });
  });

  it('ends a page of batches at the leaves budget, but always serves the next batch whole', async () => {
    await pool.query('TRUNCATE anchor_records, anchor_batch_leaves, anchor_batches');
    // Sizes around the budget: two that fit together, one that does not fit beside them, one
    // alone over it, then small ones.
    const half = LEAVES_PER_LOG_PAGE / 2;
    const sizes = [half, half, 1, LEAVES_PER_LOG_PAGE + 1, 3, 4];
    for (const [i, size] of sizes.entries()) {
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO anchor_batches (id, on_chain_id, root, previous_root, record_count, status)
         VALUES (gen_random_uuid(), 'b' || $1, '0x01', '0x00', $2, 'confirmed') RETURNING id`,
        [i, size],
      );
      await pool.query(
        `INSERT INTO anchor_batch_leaves (batch_id, position, leaf, record_key, sequence)
         SELECT $1, p, '0x' || md5(p::text), '0x' || md5('k' || p), 0
           FROM generate_series(0, $2 - 1) p`,
        [rows[0]!.id, size],
      );
    }
    const { items, pages } = await walk((p) => store.publishedBatches(p), 100);
    expect(items.map((b) => b.leaves.length)).toEqual(sizes);
    expect(items.every((b) => b.leaves.length === b.recordCount)).toBe(true);
    expect(pages.map((p) => p.items.map((b) => b.recordCount))).toEqual([
      [half, half],
      [1],
      [LEAVES_PER_LOG_PAGE + 1],
      [3, 4],
    ]);
    expect(pages.map((p) => p.hasMore)).toEqual([true, true, true, false]);
  });
});
