import type { Pool } from 'pg';
import { describeIfServer } from '@ecom/test-support';
import type { PgAnchorStore } from '../../src/anchoring';
import { anchorStoreOnDb, type AnchorStoreOnDb } from './store-support';

describeIfServer('postgres', 'the count of entries waiting to be anchored (PostgreSQL)', () => {
  let on: AnchorStoreOnDb;
  let pool: Pool;
  let store: PgAnchorStore;

  beforeAll(async () => {
    on = await anchorStoreOnDb('common_anchor_pending');
    ({ pool, store } = on);
  });
  afterAll(() => on.close());

  /** What the count means: every entry not in a confirmed batch. */
  async function notConfirmed(): Promise<number> {
    const { rows } = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM anchor_records r LEFT JOIN anchor_batches b ON b.id = r.batch_id
        WHERE b.status IS DISTINCT FROM 'confirmed'`,
    );
    return Number(rows[0]!.n);
  }

  async function entries(n: number): Promise<string[]> {
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO anchor_records (record_type, record_id, source_id, version, salt, leaf, canonical)
       SELECT 'order', 'o' || i, 's' || i, 2, '0x00', '0x' || md5(random()::text), '{}'
         FROM generate_series(1, $1) AS i RETURNING id`,
      [n],
    );
    return rows.map((r) => r.id);
  }

  it('counts the queue and the batches not yet confirmed, and entries a fresh chain sent back', async () => {
    const expectPending = async (n: number) => {
      expect(await store.pendingCount()).toBe(n);
      expect(await notConfirmed()).toBe(n);
    };
    await expectPending(0);
    const ids = await entries(6);
    await expectPending(6);

    const first = await on.batch(ids.slice(0, 2));
    await expectPending(6); // pending
    await store.markSent(first, `0x${'33'.repeat(32)}`);
    await expectPending(6); // sent
    await store.markConfirmed(first, {
      txHash: `0x${'33'.repeat(32)}`,
      blockNumber: 1,
      blockHash: `0x${'44'.repeat(32)}`,
      blockTimestamp: new Date(),
    });
    await expectPending(4);

    const second = await on.batch(ids.slice(2, 5));
    await store.markSent(second, `0x${'55'.repeat(32)}`);
    await expectPending(4);
    await on.batch(ids.slice(5));
    await expectPending(4);

    // A fresh chain: every batch superseded, their entries back in the queue.
    await store.requeueAll();
    await expectPending(6);
  });
});
