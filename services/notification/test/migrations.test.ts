import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { createPgPool, runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres } from '@ecom/test-support';
import { notificationMigrations } from '../src/store/migrations';

describe('notification migrations (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestPostgres('notification_migrations');
    pool = createPgPool(db.url, 2);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  it("002 replaces the mail server's words kept by earlier attempts with a generic code", async () => {
    // The schema as it was before 002, with what the sender then recorded.
    await runMigrations(
      pool,
      notificationMigrations.filter((m) => m.id < '002'),
    );
    const failing = randomUUID();
    const sent = randomUUID();
    const raw =
      "SMTP: Can't send mail - all recipients were rejected: 550 5.1.1 <a@x> unknown at mx1.corp.internal";
    for (const [id, status, lastError] of [
      [failing, 'PENDING', raw],
      [sent, 'SENT', null],
    ] as const) {
      await pool.query(
        `INSERT INTO notifications (id, event_id, event_type, business_key, kind, facts, status, last_error)
         VALUES ($1, $4, 'order.confirmed', $4, 'order_confirmed', '{}', $2, $3)`,
        [id, status, lastError, `order_confirmed:${id}`],
      );
    }
    await pool.query(
      `INSERT INTO notification_attempts (notification_id, attempt, outcome, detail)
       VALUES ($1, 1, 'FAILED', $2), ($3, 1, 'FAILED', $2), ($3, 2, 'SENT', NULL)`,
      [failing, raw, sent],
    );

    expect(
      await runMigrations(
        pool,
        notificationMigrations.filter((m) => m.id < '003'),
      ),
    ).toEqual(['002_safe_send_errors']);

    const generic = 'SEND_FAILED: the mail could not be sent';
    const { rows: notifications } = await pool.query(
      'SELECT id, status, last_error FROM notifications ORDER BY id',
    );
    expect(notifications).toEqual(
      expect.arrayContaining([
        { id: failing, status: 'PENDING', last_error: generic },
        { id: sent, status: 'SENT', last_error: null },
      ]),
    );
    const { rows: attempts } = await pool.query(
      'SELECT notification_id, attempt, detail FROM notification_attempts',
    );
    expect(attempts).toEqual(
      expect.arrayContaining([
        { notification_id: failing, attempt: 1, detail: generic },
        { notification_id: sent, attempt: 1, detail: generic },
        { notification_id: sent, attempt: 2, detail: null },
      ]),
    );
    expect(JSON.stringify([notifications, attempts])).not.toContain('corp.internal');
  });

  it('003 adds the per-address budget on a database with mail already sent', async () => {
    expect(await runMigrations(pool, notificationMigrations)).toEqual(['003_recipient_budgets']);
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM recipient_budgets');
    expect(rows).toEqual([{ n: 0 }]);
  });
});
