import { Client, type Pool } from 'pg';
import { runMigrations, withTransaction } from '@ecom/common/postgres';
import {
  createTestPostgres,
  untilWaitingForLock,
  type TestPostgres,
  queryText,
  testPool,
} from '@ecom/test-support';
import { paymentMigrations } from '../src/store/migrations';
import { paymentStore } from '../src/store/payment-store';

/** A charge's two writes of the payment and its attempt, each pair in one statement. */
describe('paymentStore: a charge claimed and recorded (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('payment_store');
    pool = testPool(db.url, 3);
    await runMigrations(pool, paymentMigrations);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  /** A payment PROCESSING its first attempt, PENDING at the provider. */
  async function processing(id: string, orderId: string): Promise<void> {
    await pool.query(
      `INSERT INTO payments (id, order_id, user_id, amount_cents, currency, method, status,
         attempts, order_known, reserved)
       VALUES ($1, $2, 'user-1', 1500, 'EUR', 'card', 'PROCESSING', 1, true, true)`,
      [id, orderId],
    );
    await pool.query(
      `INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method, status)
       VALUES ($1, 1, $2, 'order', 'card', 'PENDING')`,
      [id, `key-${id}`],
    );
  }

  const attempt = async (id: string) =>
    (
      await pool.query<{ status: string; charge_id: string | null; failure_code: string | null }>(
        'SELECT status, charge_id, failure_code FROM payment_attempts WHERE payment_id = $1',
        [id],
      )
    ).rows[0];

  it('locks the payment and settles a PENDING attempt in one statement, once', async () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000001';
    await processing(id, '1a2b3c4d-0000-4000-8000-0000000000a1');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const queries = jest.spyOn(client, 'query');
      const first = await paymentStore.lockAndSettleAttempt(client, id, 1, {
        ok: true,
        chargeId: 'ch_1',
      });
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(first).toMatchObject({
        settled: true,
        row: { id, status: 'PROCESSING', attempts: 1 },
      });
      expect(first!.row).not.toHaveProperty('settled_now');
      const again = await paymentStore.lockAndSettleAttempt(client, id, 1, {
        ok: false,
        code: 'card_declined',
        reason: 'declined',
      });
      expect(again).toMatchObject({ settled: false, row: { id } });
      const unknown = '1a2b3c4d-0000-4000-8000-00000000ffff';
      expect(
        await paymentStore.lockAndSettleAttempt(client, unknown, 1, { ok: true, chargeId: 'ch_2' }),
      ).toBeNull();
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await attempt(id)).toEqual({
      status: 'SUCCEEDED',
      charge_id: 'ch_1',
      failure_code: null,
    });
  });

  it('with a patch, settles the attempt and moves the payment in the same statement, only while it is PROCESSING on that attempt', async () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000005';
    await processing(id, '1a2b3c4d-0000-4000-8000-0000000000a5');
    const completed = { status: 'COMPLETED', charge_id: 'ch_5', token: null } as const;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const queries = jest.spyOn(client, 'query');
      const first = await paymentStore.lockAndSettleAttempt(
        client,
        id,
        1,
        { ok: true, chargeId: 'ch_5' },
        completed,
      );
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(first).toMatchObject({
        settled: true,
        moved: true,
        row: { id, status: 'COMPLETED', charge_id: 'ch_5', token: null, attempts: 1 },
      });
      expect(first!.row).not.toHaveProperty('moved');
      expect(first!.row).not.toHaveProperty('settled_now');
      expect(typeof first!.row.amount_cents).toBe('string');
      // Settled already: neither the attempt nor the payment moves again.
      const again = await paymentStore.lockAndSettleAttempt(
        client,
        id,
        1,
        { ok: true, chargeId: 'ch_other' },
        { status: 'FAILED' },
      );
      expect(again).toMatchObject({ settled: false, moved: false, row: { status: 'COMPLETED' } });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(await attempt(id)).toEqual({
      status: 'SUCCEEDED',
      charge_id: 'ch_5',
      failure_code: null,
    });
    expect(await paymentStore.get(pool, id)).toMatchObject({
      status: 'COMPLETED',
      charge_id: 'ch_5',
    });

    // A payment that is no longer PROCESSING on this attempt (a newer attempt was claimed): the
    // attempt's answer is recorded, the payment is left as it is.
    const other = '1a2b3c4d-0000-4000-8000-000000000006';
    await processing(other, '1a2b3c4d-0000-4000-8000-0000000000a6');
    await pool.query('UPDATE payments SET attempts = 2 WHERE id = $1', [other]);
    const stale = await withTransaction(pool, (c) =>
      paymentStore.lockAndSettleAttempt(c, other, 1, { ok: true, chargeId: 'ch_6' }, completed),
    );
    expect(stale).toMatchObject({ settled: true, moved: false, row: { status: 'PROCESSING' } });
    expect(await attempt(other)).toMatchObject({ status: 'SUCCEEDED', charge_id: 'ch_6' });
    expect(await paymentStore.get(pool, other)).toMatchObject({
      status: 'PROCESSING',
      charge_id: null,
    });

    // An attempt another recorder settled: the payment is not moved on its behalf either.
    const settled = '1a2b3c4d-0000-4000-8000-000000000007';
    await processing(settled, '1a2b3c4d-0000-4000-8000-0000000000a7');
    await pool.query(`UPDATE payment_attempts SET status = 'FAILED' WHERE payment_id = $1`, [
      settled,
    ]);
    const late = await withTransaction(pool, (c) =>
      paymentStore.lockAndSettleAttempt(c, settled, 1, { ok: true, chargeId: 'ch_7' }, completed),
    );
    expect(late).toMatchObject({ settled: false, moved: false, row: { status: 'PROCESSING' } });
    expect(await paymentStore.get(pool, settled)).toMatchObject({ charge_id: null });
  });

  it('waits for a recorder holding the payment, then leaves its result and reads its row', async () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000002';
    await processing(id, '1a2b3c4d-0000-4000-8000-0000000000a2');
    const holder = await pool.connect();
    const recorder = await pool.connect();
    try {
      const pid = (await recorder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!
        .pid;
      // Another recorder (a webhook, say) holds the lock and records a decline.
      await holder.query('BEGIN');
      await paymentStore.lockAndSettleAttempt(holder, id, 1, {
        ok: false,
        code: 'card_declined',
        reason: 'declined',
      });
      await holder.query("UPDATE payments SET status = 'FAILED' WHERE id = $1", [id]);
      await recorder.query('BEGIN');
      // The late success would complete the payment in the same statement (its patch).
      const recording = paymentStore.lockAndSettleAttempt(
        recorder,
        id,
        1,
        { ok: true, chargeId: 'ch_late' },
        { status: 'COMPLETED', charge_id: 'ch_late', token: null },
      );
      await untilWaitingForLock(pool, pid);
      await holder.query('COMMIT');
      expect(await recording).toMatchObject({
        settled: false,
        moved: false,
        row: { id, status: 'FAILED', charge_id: null },
      });
      await recorder.query('COMMIT');
    } finally {
      holder.release();
      recorder.release();
    }
    expect(await attempt(id)).toEqual({
      status: 'FAILED',
      charge_id: null,
      failure_code: 'card_declined',
    });
  });

  it('claims an attempt and updates the payment in one statement, or writes neither', async () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000003';
    await processing(id, '1a2b3c4d-0000-4000-8000-0000000000a3');
    const second = {
      payment_id: id,
      attempt: 2,
      idempotency_key: `key-${id}-2`,
      source: 'initiate',
      method: 'card',
      token: 'tok_visa',
    } as const;
    const client = await pool.connect();
    try {
      const queries = jest.spyOn(client, 'query');
      const updated = await paymentStore.insertAttemptAndUpdate(client, second, {
        status: 'PROCESSING',
        attempts: 2,
        failure_code: null,
      });
      expect(queries).toHaveBeenCalledTimes(1);
      queries.mockRestore();
      expect(updated).toMatchObject({ id, status: 'PROCESSING', attempts: 2 });
      // The same attempt again breaks its key: the payment's update goes with it.
      await expect(
        paymentStore.insertAttemptAndUpdate(client, second, { status: 'FAILED', attempts: 3 }),
      ).rejects.toThrow(/duplicate key/);
    } finally {
      client.release();
    }
    const rows = await pool.query(
      'SELECT attempt, status, token FROM payment_attempts WHERE payment_id = $1 ORDER BY attempt',
      [id],
    );
    expect(rows.rows).toEqual([
      { attempt: 1, status: 'PENDING', token: null },
      { attempt: 2, status: 'PENDING', token: 'tok_visa' },
    ]);
    const payment = await paymentStore.get(pool, id);
    expect(payment).toMatchObject({ status: 'PROCESSING', attempts: 2 });
  });

  it('records the answer as the first statement of its transaction, sent with BEGIN, values intact', async () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000004';
    await processing(id, '1a2b3c4d-0000-4000-8000-0000000000a4');
    const reason = `Declined: "it's" \\ $1 ; -- not SQL`;
    const sent = jest.spyOn(Client.prototype, 'query');
    let texts: string[];
    let locked: Awaited<ReturnType<typeof paymentStore.lockAndSettleAttempt>>;
    try {
      locked = await withTransaction(pool, (client) =>
        paymentStore.lockAndSettleAttempt(client, id, 1, {
          ok: false,
          code: 'card_declined',
          reason,
        }),
      );
    } finally {
      texts = sent.mock.calls.map(([text]) => queryText(text));
      sent.mockRestore();
    }
    // Two round trips: BEGIN with the statement (its values written in), then COMMIT.
    expect(texts).toHaveLength(2);
    expect(texts[0]).toMatch(/^BEGIN;\s*WITH locked AS/);
    expect(texts[1]).toBe('COMMIT');
    expect(locked).toMatchObject({ settled: true, row: { id, status: 'PROCESSING', attempts: 1 } });
    expect(typeof locked!.row.amount_cents).toBe('string');
    const { rows } = await pool.query(
      'SELECT status, failure_code, failure_reason FROM payment_attempts WHERE payment_id = $1',
      [id],
    );
    expect(rows).toEqual([
      { status: 'FAILED', failure_code: 'card_declined', failure_reason: reason },
    ]);
  });

  it("creates an order's payment with a patch in it, or leaves the order's existing payment alone (null)", async () => {
    const orderId = 'order-created-with-facts';
    const patch = {
      user_id: 'user-9',
      amount_cents: 2500,
      currency: 'USD',
      method: 'card',
      token: 'tok_visa',
      order_known: true,
      correlation_id: 'corr-1',
    };
    const created = await withTransaction(pool, (client) =>
      paymentStore.createForOrder(
        client,
        { id: '1a2b3c4d-0000-4000-8000-0000000000c1', orderId },
        patch,
      ),
    );
    expect(created).toMatchObject({
      id: '1a2b3c4d-0000-4000-8000-0000000000c1',
      order_id: orderId,
      ...patch,
      amount_cents: '2500',
      status: 'PENDING',
      reserved: false,
    });
    const again = await withTransaction(pool, (client) =>
      paymentStore.createForOrder(
        client,
        { id: '1a2b3c4d-0000-4000-8000-0000000000c2', orderId },
        { ...patch, amount_cents: 9999 },
      ),
    );
    expect(again).toBeNull();
    const { rows } = await pool.query('SELECT id, amount_cents FROM payments WHERE order_id = $1', [
      orderId,
    ]);
    expect(rows).toEqual([{ id: '1a2b3c4d-0000-4000-8000-0000000000c1', amount_cents: '2500' }]);
  });
  it('a pass reads charges waiting on the customer after those whose answer was lost, and finds the ones that waited too long', async () => {
    // 120 charges left waiting on 3-D Secure, older than one whose provider answer was lost.
    await pool.query(
      `WITH p AS (
         INSERT INTO payments (id, order_id, user_id, amount_cents, currency, method, status,
           attempts, order_known, reserved)
         SELECT gen_random_uuid(), gen_random_uuid(), 'user-3ds', 1500, 'EUR', 'card', 'PROCESSING',
           1, true, true FROM generate_series(1, 120)
         RETURNING id)
       INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method, status,
         intent_id, provider_status, created_at)
       SELECT id, 1, 'key-3ds-' || id, 'order', 'card', 'PENDING', 'pi_' || md5(id::text),
         'requires_action', now() - interval '20 minutes'
         FROM p`,
    );
    const lost = '1a2b3c4d-0000-4000-8000-0000000000d1';
    await processing(lost, '1a2b3c4d-0000-4000-8000-0000000000d2');
    await pool.query(
      `UPDATE payment_attempts SET created_at = now() - interval '2 minutes' WHERE payment_id = $1`,
      [lost],
    );

    const stale = await paymentStore.stalePendingAttempts(pool, 60_000);
    expect(stale).toHaveLength(100);
    expect(stale[0]!.payment_id).toBe(lost);
    expect(stale.slice(1).every((a) => a.provider_status === 'requires_action')).toBe(true);

    const waited = await paymentStore.waitingAttemptsToCancel(pool, 15 * 60_000);
    expect(waited).toHaveLength(100);
    expect(waited.every((a) => a.provider_status === 'requires_action')).toBe(true);
    expect(await paymentStore.waitingAttemptsToCancel(pool, 30 * 60_000)).toHaveLength(0);
  });

  it('a charge waiting on the customer for an order that has closed is to cancel at once, one for an open order only after the wait', async () => {
    const waitingFor = async (closed: string | null) => {
      const { rows } = await pool.query<{ id: string }>(
        `WITH p AS (
           INSERT INTO payments (id, order_id, user_id, amount_cents, currency, method, status,
             attempts, order_known, reserved, order_closed)
           VALUES (gen_random_uuid(), gen_random_uuid(), 'user-closed', 1500, 'EUR', 'card',
             'PROCESSING', 1, true, true, $1)
           RETURNING id)
         INSERT INTO payment_attempts (payment_id, attempt, idempotency_key, source, method,
           status, intent_id, provider_status, created_at)
         SELECT id, 1, 'key-closed-' || id, 'order', 'card', 'PENDING', 'pi_' || md5(id::text),
           'requires_action', now() - interval '1 minute' FROM p
         RETURNING payment_id AS id`,
        [closed],
      );
      return rows[0]!.id;
    };
    const cancelled = await waitingFor('CANCELLED');
    const failed = await waitingFor('FAILED');
    await waitingFor(null);
    // Longer than any charge here has waited: only the closed orders' come back.
    const due = await paymentStore.waitingAttemptsToCancel(pool, 30 * 60_000);
    expect(due.map((a) => a.payment_id).sort()).toEqual([cancelled, failed].sort());
  });
});
