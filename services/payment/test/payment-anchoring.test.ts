import type { Pool } from 'pg';
import { Wallet } from 'ethers';
import {
  createAnchoring,
  parseCanonical,
  pendingChanges,
  type Anchoring,
  type EntryDocument,
} from '@ecom/common/anchoring';
import { runMigrations, withTransaction } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres, testPool } from '@ecom/test-support';
import { paymentMigrations } from '../src/store/migrations';
import { paymentChangeRules, paymentRecord } from '../src/store/payment-record';
import { paymentStore } from '../src/store/payment-store';

jest.setTimeout(30_000);

/**
 * A payment's amount edited directly in the database, then an admin refund: the edit is not
 * absorbed by the refund's entry, it gets an entry of its own naming `amount`, before the
 * refund's (ADR 0058). Real anchoring on the payment's own snapshot; no chain (the entries stay
 * pending, every other check runs).
 */
describe("a payment's edit made in the database, then a refund (real PostgreSQL)", () => {
  let db: TestPostgres;
  let pool: Pool;
  let anchoring: Anchoring;
  const id = '5d7c1f0e-2a3b-4c5d-8e9f-0a1b2c3d4e60';
  const orderId = '6e8d2a1f-3b4c-4d5e-9f0a-1b2c3d4e5f61';
  const refundId = '7f9e3b2a-4c5d-4e6f-8a1b-2c3d4e5f6072';
  const ref = { recordType: 'payment', recordId: id };

  beforeAll(async () => {
    db = await createTestPostgres('payment_anchoring');
    pool = testPool(db.url, 3);
    anchoring = createAnchoring({
      pool,
      rpcUrl: 'http://127.0.0.1:9',
      privateKey: Wallet.createRandom().privateKey,
      recordTypes: { payment: paymentRecord },
    });
    await runMigrations(pool, [...paymentMigrations, ...anchoring.migrations]);
  });

  afterAll(async () => {
    await anchoring?.close();
    await pool?.end();
    await db?.cleanup();
  });

  /** A change as the service makes it: its statements and the payment's entries, together. */
  const change = (sql: Array<[string, unknown[]]>) =>
    withTransaction(pool, async (client) => {
      for (const [text, values] of sql) await client.query(text, values);
      return anchoring.record(client, ref);
    });

  const entries = async () => {
    const verdict = await anchoring.recordsFor('payment', id);
    const docs = verdict.entries.map((e) => {
      const parsed = parseCanonical(e.receipt.canonical);
      if ('error' in parsed) throw new Error(parsed.error);
      return parsed.doc as EntryDocument;
    });
    return { verdict, docs };
  };

  it('gives the edit of the amount its own entry before the refund, which names only what it changed', async () => {
    await change([
      [
        `INSERT INTO payments (id, order_id, user_id, amount_cents, currency, method, status,
           attempts, order_known, reserved, correlation_id)
         VALUES ($1, $2, 'user-1', 5997, 'USD', 'card', 'PROCESSING', 1, true, true, 'corr-1')`,
        [id, orderId],
      ],
      [
        `INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method)
         VALUES ($1, 1, 'k-1', 'order', 'card')`,
        [id],
      ],
    ]);
    await change([
      [
        `UPDATE payment_attempts SET status = 'SUCCEEDED', charge_id = 'ch_1',
           completed_at = clock_timestamp() WHERE payment_id = $1`,
        [id],
      ],
      [`UPDATE payments SET status = 'COMPLETED', charge_id = 'ch_1' WHERE id = $1`, [id]],
    ]);
    expect((await anchoring.recordsFor('payment', id)).reasons).toEqual([]);

    await pool.query('UPDATE payments SET amount_cents = 1000 WHERE id = $1', [id]);
    const edited = await anchoring.recordsFor('payment', id);
    expect(edited.status).toBe('TAMPERED');
    expect(edited.reasons).toContain('the record changed without a new entry');

    // An admin refunds 100, as the service claims a refund: its row, the amount reserved.
    await withTransaction(pool, async (client) => {
      await paymentStore.insertRefund(client, {
        id: refundId,
        payment_id: id,
        amount_cents: 100,
        currency: 'USD',
        reason: 'damaged',
        cause: 'admin',
        idempotency_key: 'rk-1',
        requested_by: 'admin-1',
      });
      await paymentStore.update(client, id, { refunded_cents: 100 });
      await anchoring.record(client, ref);
    });
    const { verdict, docs } = await entries();
    expect(verdict.reasons).toEqual([]);
    expect(docs.map((d) => [d.sequence, d.sourceId, d.fields])).toEqual([
      [1, 'attempt:1', undefined],
      [2, 'attempt:1', ['chargeId', 'status']],
      [3, 'state', ['amount']],
      [4, `refund:${refundId}`, ['refunded']],
    ]);
    expect(docs[2]!.change).toEqual({ kind: 'state', fields: ['amount'] });
    expect(docs.map((d) => (d.state as { amount: number }).amount)).toEqual([
      5997, 5997, 1000, 1000,
    ]);
  });
});

describe("pendingChanges with payment's rules", () => {
  const payment = (state: Record<string, unknown>): EntryDocument => ({
    recordType: 'payment',
    recordId: 'p-1',
    sequence: 1,
    previousLeaf: '0x',
    sourceId: 'created',
    change: { kind: 'created' },
    state,
  });
  const before = {
    status: 'PENDING',
    amount: null,
    currency: null,
    userId: null,
    orderKnown: false,
    reserved: true,
    attempts: 0,
  };
  const attempt = { 'attempt:1': { kind: 'attempt', attempt: 1, status: 'PENDING' } };

  it('adds no entry for what the event that started a charge told (amount learnt, order known)', () => {
    const now = {
      ...before,
      status: 'PROCESSING',
      amount: 5997,
      currency: 'USD',
      userId: 'u-1',
      orderKnown: true,
      attempts: 1,
    };
    const changes = pendingChanges(
      [payment(before)],
      { state: now, rows: attempt },
      paymentChangeRules,
    );
    expect(changes.map((c) => [c.sourceId, c.fields])).toEqual([
      ['attempt:1', ['amount', 'attempts', 'currency', 'orderKnown', 'status', 'userId']],
    ]);
  });

  it('names an amount already known and changed with a charge in an entry of its own', () => {
    const known = { ...before, amount: 5997, currency: 'USD', userId: 'u-1', orderKnown: true };
    const now = { ...known, amount: 1000, status: 'PROCESSING', attempts: 1 };
    const changes = pendingChanges(
      [payment(known)],
      { state: now, rows: attempt },
      paymentChangeRules,
    );
    expect(changes.map((c) => [c.sourceId, c.fields])).toEqual([
      ['state', ['amount']],
      ['attempt:1', ['attempts', 'status']],
    ]);
    expect(changes[0]!.state).toEqual({ ...known, amount: 1000 });
  });
});
