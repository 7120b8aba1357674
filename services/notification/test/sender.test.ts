import { randomUUID } from 'node:crypto';
import { Client, type Pool } from 'pg';
import { createLogger } from '@ecom/common/logging';
import { createPgPool, runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, type TestPostgres, queryText } from '@ecom/test-support';
import { Sender } from '../src/application/sender';
import { directoryStore } from '../src/store/directory-store';
import { notificationMigrations } from '../src/store/migrations';
import { notificationStore } from '../src/store/notification-store';

/** The sender's round trips, on a database of its own (nothing else due in it). */
describe('the sender: round trips of a pass (real PostgreSQL)', () => {
  let db: TestPostgres;
  let pool: Pool;
  const mailed: string[] = [];
  let sender: Sender;

  beforeAll(async () => {
    db = await createTestPostgres('notification_sender');
    pool = createPgPool(db.url, 4);
    await runMigrations(pool, notificationMigrations);
    await directoryStore.upsertRecipient(
      pool,
      { userId: 'user-alice', email: 'alice@example.test', name: 'Alice' },
      new Date(),
    );
    sender = new Sender({
      pool,
      mailer: { send: async (m) => void mailed.push(m.subject), close: () => undefined },
      logger: createLogger('sender-test', 'silent'),
      options: {
        baseMs: 200,
        maxMs: 1000,
        maxAttempts: 3,
        recipientWaitMs: 60_000,
        recipientRecheckMs: 60_000,
        batchSize: 2,
        messageIdDomain: 'test.local',
        budget: { max: 100, receiptsMax: 100, windowMs: 3_600_000 },
      },
    });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.cleanup();
  });

  async function add(count: number): Promise<string[]> {
    const orders = Array.from({ length: count }, () => randomUUID());
    // Outside a transaction, add writes at once.
    const client = await pool.connect();
    try {
      for (const orderId of orders) {
        await notificationStore.add(client, {
          id: randomUUID(),
          eventId: randomUUID(),
          eventType: 'order.confirmed',
          businessKey: `order_confirmed:${orderId}`,
          kind: 'order_confirmed',
          orderId,
          userId: 'user-alice',
          facts: { orderId, amount: { amount: 1250, currency: 'USD' }, lineCount: 1 },
        });
      }
    } finally {
      client.release();
    }
    return orders;
  }

  /** What every pg client sent during one pass, and the pass's result. */
  async function pass() {
    const sent = jest.spyOn(Client.prototype, 'query');
    try {
      const result = await sender.run();
      return { result, texts: sent.mock.calls.map(([text]) => queryText(text)) };
    } finally {
      sent.mockRestore();
    }
  }

  const withLock =
    /^SELECT pg_try_advisory_lock.*;\nSELECT \* FROM notifications WHERE status = 'PENDING'/s;
  const isLook = (t: string) => /FROM notifications WHERE status = 'PENDING'/.test(t);

  it('an idle pass is one round trip for the lock with its look, and one for the unlock', async () => {
    const { result, texts } = await pass();
    expect(result).toMatchObject({ sent: 0, failed: 0 });
    expect(texts).toEqual([
      expect.stringMatching(withLock),
      expect.stringMatching(/^SELECT pg_advisory_unlock/),
    ]);
  });

  it('a short batch is all that was due: no second look', async () => {
    await add(1);
    const { result, texts } = await pass();
    expect(result).toMatchObject({ sent: 1 });
    expect(texts[0]).toMatch(withLock);
    expect(texts.filter(isLook)).toHaveLength(1);
    // The lock with its look, the mail's recipient (with its budget slot) and its recorded
    // attempt, the unlock.
    expect(texts).toHaveLength(4);
  });

  it('a full batch is looked past: every due one is sent in the pass', async () => {
    const orders = await add(3);
    mailed.length = 0;
    const { result, texts } = await pass();
    expect(result).toMatchObject({ sent: 3, failed: 0 });
    expect(orders.map((id) => mailed.filter((s) => s.includes(id)).length)).toEqual([1, 1, 1]);
    // The first look with the lock found two (a full batch), the second found the third.
    expect(texts.filter(isLook)).toHaveLength(2);
    expect(texts).toHaveLength(2 + 3 * 2 + 1);
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM notifications WHERE status = 'SENT' AND order_id = ANY($1)",
      [orders],
    );
    expect(rows[0].n).toBe(3);
  });
});
