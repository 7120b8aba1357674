import type { Pool } from 'pg';
import { Wallet } from 'ethers';
import {
  createAnchoring,
  parseCanonical,
  type Anchoring,
  type EntryDocument,
} from '@ecom/common/anchoring';
import { runMigrations, withTransaction } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres, testPool } from '@ecom/test-support';
import type { TransitionName } from '../src/domain/state-machine';
import { orderMigrations } from '../src/store/migrations';
import { orderRecord } from '../src/store/order-record';
import { orderStore } from '../src/store/order-store';

jest.setTimeout(30_000);

/**
 * An order edited directly in the database, then changed by the service: the edit is not
 * absorbed by the change's entry (it would then verify as if it had always been so), it gets an
 * entry of its own naming the fields, before the change's (ADR 0058). Real anchoring on the
 * order's own snapshot; no chain (the entries stay pending, every other check runs).
 */
describe("an order's edit made in the database, then a legitimate change (real PostgreSQL)", () => {
  let db: TestPostgres;
  let pool: Pool;
  let anchoring: Anchoring;
  const id = '4c2f7a10-8d3e-4b5a-9c6d-7e8f9a0b1c2d';
  const ref = { recordType: 'order', recordId: id };

  beforeAll(async () => {
    db = await createTestPostgres('order_anchoring');
    pool = testPool(db.url, 3);
    anchoring = createAnchoring({
      pool,
      rpcUrl: 'http://127.0.0.1:9',
      privateKey: Wallet.createRandom().privateKey,
      recordTypes: { order: orderRecord },
    });
    await runMigrations(pool, [...orderMigrations, ...anchoring.migrations]);
  });

  afterAll(async () => {
    await anchoring?.close();
    await pool?.end();
    await db?.cleanup();
  });

  const move = (transition: TransitionName, actor = 'admin-1') =>
    withTransaction(pool, async (client) => {
      const moved = await orderStore.transition(client, {
        orderId: id,
        transition,
        cause: { type: 'request', requestId: `req-${transition}`, userId: actor },
      });
      expect(moved.applied).toBe(true);
      return anchoring.record(client, ref);
    });

  const entries = async () => {
    const verdict = await anchoring.recordsFor('order', id);
    const docs = verdict.entries.map((e) => {
      const parsed = parseCanonical(e.receipt.canonical);
      if ('error' in parsed) throw new Error(parsed.error);
      return parsed.doc as EntryDocument;
    });
    return { verdict, docs };
  };

  it('gives the edit its own entry naming total (and a status set back), before the shipment', async () => {
    await withTransaction(pool, async (client) => {
      await client.query(
        `INSERT INTO orders (id, user_id, status, currency, total_cents, payment_method,
           shipping_address, correlation_id)
         VALUES ($1, 'user-1', 'PENDING', 'USD', 5997, 'card', $2, 'corr-1')`,
        [id, JSON.stringify({ name: 'Zoë', line1: '1 Main St', city: 'Zürich', country: 'CH' })],
      );
      await client.query(
        `INSERT INTO order_items (order_id, line_no, product_id, name, seller_id, quantity,
           unit_price_cents, line_total_cents) VALUES ($1, 1, 'p-1', 'Mug', NULL, 3, 1999, 5997)`,
        [id],
      );
      await client.query(
        `INSERT INTO order_status_history (order_id, from_status, to_status, cause_type, cause_id,
           actor_id) VALUES ($1, NULL, 'PENDING', 'request', 'req-1', 'user-1')`,
        [id],
      );
      await anchoring.record(client, ref);
    });
    await move('reservedWithPayment');
    await move('confirm');
    expect((await anchoring.recordsFor('order', id)).reasons).toEqual([]);

    // The auditor's edit: the total lowered, the status (already CONFIRMED) set again.
    await pool.query(`UPDATE orders SET total_cents = 1000, status = 'CONFIRMED' WHERE id = $1`, [
      id,
    ]);
    const edited = await anchoring.recordsFor('order', id);
    expect(edited.status).toBe('TAMPERED');
    expect(edited.reasons).toContain('the record changed without a new entry');

    // An admin ships it: entry 4 names the edit, entry 5 is the shipment alone.
    await move('ship');
    let { verdict, docs } = await entries();
    expect(verdict.reasons).toEqual([]);
    expect(docs.slice(3).map((d) => [d.sequence, d.sourceId, d.change, d.fields])).toEqual([
      [4, 'state', { kind: 'state', fields: ['total'] }, ['total']],
      [
        5,
        expect.stringMatching(/^history:/),
        expect.objectContaining({ to: 'SHIPPED' }),
        ['status'],
      ],
    ]);
    expect(docs.map((d) => (d.state as { total: number }).total)).toEqual([
      5997, 5997, 5997, 1000, 1000,
    ]);
    expect((docs[3]!.state as { status: string }).status).toBe('CONFIRMED');

    // A status set back by hand: the history row's `from` is not where the entries left it.
    await pool.query(`UPDATE orders SET status = 'CONFIRMED' WHERE id = $1`, [id]);
    await move('ship');
    ({ verdict, docs } = await entries());
    expect(verdict.reasons).toEqual([]);
    expect(docs.slice(5).map((d) => [d.sourceId, d.fields])).toEqual([
      ['state', ['status']],
      [expect.stringMatching(/^history:/), ['status']],
    ]);
    expect(docs.slice(4).map((d) => (d.state as { status: string }).status)).toEqual([
      'SHIPPED',
      'CONFIRMED',
      'SHIPPED',
    ]);
  });
  it('names a refunded total raised by hand in an entry of its own, before the refund that follows', async () => {
    // The same order, now shipped (its total 1000): someone raises what it says was refunded,
    // then a real refund of 300 arrives. The refunded total did not move by the refund's amount,
    // so the whole move is named as an edit, before the refund's own entry.
    await pool.query(`UPDATE orders SET refunded_cents = 500 WHERE id = $1`, [id]);
    await withTransaction(pool, async (client) => {
      expect(
        await orderStore.addRefund(client, {
          orderId: id,
          refundId: '5b0e8f52-0c1d-4e2f-9a3b-4c5d6e7f8091',
          paymentId: '6c1f9a63-1d2e-4f3a-8b4c-5d6e7f8091a2',
          amount: { amount: 300, currency: 'USD' },
        }),
      ).toBe('added');
      await anchoring.record(client, ref);
    });
    const { verdict, docs } = await entries();
    expect(verdict.reasons).toEqual([]);
    expect(docs.slice(-2).map((d) => [d.sourceId, d.fields])).toEqual([
      ['state', ['refunded']],
      [expect.stringMatching(/^refund:/), []],
    ]);
    expect(docs.slice(-3).map((d) => (d.state as { refunded: number }).refunded)).toEqual([
      0, 800, 800,
    ]);
  });
});
