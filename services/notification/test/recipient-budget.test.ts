import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { AuthUser } from '@ecom/common/auth';
import { createLogger } from '@ecom/common/logging';
import { createPgPool, runMigrations } from '@ecom/common/postgres';
import { createTestPostgres, freePort, sleep, type TestPostgres } from '@ecom/test-support';
import type { Mailer } from '../src/application/mailer';
import { Notifications } from '../src/application/notifications';
import { Sender } from '../src/application/sender';
import type { NotificationKind } from '../src/domain/kinds';
import { createSmtpMailer } from '../src/mail/smtp-mailer';
import { directoryStore } from '../src/store/directory-store';
import { notificationMigrations } from '../src/store/migrations';
import { notificationStore } from '../src/store/notification-store';
import { TestSmtp, testConfig } from './support';

/**
 * The per-address budget (docs/adr/0059): real PostgreSQL, a real SMTP server, and two
 * senders on two pools, as two replicas are.
 */
describe('mail per address is bounded (real PostgreSQL, real SMTP server, two replicas)', () => {
  const MAX = 5;
  /** The receipts' own cap (NOTIFY_RECIPIENT_RECEIPTS_MAX_PER_HOUR). */
  const RECEIPTS_MAX = 10;
  let db: TestPostgres;
  let smtp: TestSmtp;
  const pools: Pool[] = [];
  const mailers: Mailer[] = [];
  const limited: NotificationKind[] = [];

  const newPool = () => {
    const pool = createPgPool(db.url, 6);
    pools.push(pool);
    return pool;
  };
  const newSender = (pool: Pool, windowMs = 3_600_000) => {
    const mailer = createSmtpMailer({
      host: '127.0.0.1',
      port: smtp.port,
      secure: false,
      from: 'Shop <shop@example.com>',
      timeoutMs: 5000,
    });
    mailers.push(mailer);
    return new Sender({
      pool,
      mailer,
      logger: createLogger('budget-test', 'silent'),
      rateLimited: (kind) => void limited.push(kind),
      options: {
        baseMs: 50,
        maxMs: 100,
        maxAttempts: 2,
        recipientWaitMs: 60_000,
        recipientRecheckMs: 60_000,
        batchSize: 4,
        messageIdDomain: 'test.local',
        budget: { max: MAX, receiptsMax: RECEIPTS_MAX, windowMs },
      },
    });
  };

  let replicas: [Sender, Sender];

  beforeAll(async () => {
    db = await createTestPostgres('notification_budget');
    smtp = new TestSmtp(await freePort());
    await smtp.start();
    await runMigrations(newPool(), notificationMigrations);
    replicas = [newSender(newPool()), newSender(newPool())];
  });
  afterAll(async () => {
    for (const m of mailers) m.close();
    await Promise.all(pools.map((p) => p.end()));
    await smtp?.stop();
    await db?.cleanup();
  });

  /** A customer known to the directory, under `email`. */
  async function customer(email: string): Promise<AuthUser> {
    const user: AuthUser = { id: `user-${randomUUID()}`, role: 'customer' };
    await directoryStore.upsertRecipient(
      pools[0]!,
      { userId: user.id, email, name: 'Security team: call +1 555 0100' },
      new Date(),
    );
    return user;
  }

  /** `count` notifications of `kind` for `user`, due now; their order ids. */
  async function notify(user: AuthUser, kind: NotificationKind, count: number) {
    const orders = Array.from({ length: count }, () => randomUUID());
    const client = await pools[0]!.connect();
    try {
      for (const orderId of orders) {
        await notificationStore.add(client, {
          id: randomUUID(),
          eventId: randomUUID(),
          eventType: 'order.failed',
          businessKey: `${kind}:${orderId}`,
          kind,
          orderId,
          userId: user.id,
          facts: { orderId, reason: 'payment failed: card_declined' },
        });
      }
    } finally {
      client.release();
    }
    return orders;
  }

  /** Both replicas' passes, at once, until nothing is pending (retries are 50-100 ms apart). */
  async function sendAll(senders: Sender[] = replicas) {
    for (let round = 0; round < 100; round++) {
      await Promise.all(senders.map((s) => s.run()));
      const { rows } = await pools[0]!.query(
        "SELECT 1 FROM notifications WHERE status = 'PENDING'",
      );
      if (rows.length === 0) return;
      await sleep(30);
    }
    throw new Error('notifications still pending after 100 rounds');
  }

  async function statuses(orders: string[]) {
    const { rows } = await pools[0]!.query<{ status: string; last_error: string | null }>(
      'SELECT status, last_error FROM notifications WHERE order_id = ANY($1)',
      [orders],
    );
    return rows;
  }

  it('sends an address at most its budget; the rest are SKIPPED (RECIPIENT_RATE_LIMITED) for good, and listed so', async () => {
    const victim = 'victim@victim.example';
    const attacker = await customer(victim);
    const bystander = await customer('bob@example.test');
    const orders = await notify(attacker, 'order_failed', 3 * MAX);
    const bobs = await notify(bystander, 'order_failed', 1);
    limited.length = 0;

    await sendAll();

    expect(smtp.to(victim)).toHaveLength(MAX);
    expect(smtp.to('bob@example.test')).toHaveLength(1);
    const states = await statuses(orders);
    expect(states.filter((s) => s.status === 'SENT')).toHaveLength(MAX);
    expect(states.filter((s) => s.status === 'SKIPPED')).toHaveLength(2 * MAX);
    expect((await statuses(bobs)).map((s) => s.status)).toEqual(['SENT']);
    expect(limited).toEqual(Array.from({ length: 2 * MAX }, () => 'order_failed'));

    // The customer's list says why, with the one attempt it had and no next one.
    const page = await new Notifications({ pool: pools[0]! }).list(attacker, {
      page: 1,
      limit: 100,
      status: 'SKIPPED',
    });
    expect(page.items).toHaveLength(2 * MAX);
    for (const n of page.items) {
      expect(n).toMatchObject({
        status: 'SKIPPED',
        nextAttemptAt: null,
        lastError: 'RECIPIENT_RATE_LIMITED',
        attempts: [
          expect.objectContaining({
            attempt: 1,
            outcome: 'SKIPPED',
            detail: 'RECIPIENT_RATE_LIMITED',
          }),
        ],
      });
    }

    // Never retried: later passes send nothing more to the address.
    await sendAll();
    await sleep(200);
    await sendAll();
    expect(smtp.to(victim)).toHaveLength(MAX);
    // And what went out carries neither the display name nor the typed words.
    for (const mail of smtp.to(victim)) {
      expect(mail.raw).not.toContain('555');
      expect(mail.raw).not.toContain('Security team');
    }
  });

  it('takes slots atomically: 40 concurrent takes for one address from two pools grant exactly the budget', async () => {
    const user = await customer(`race-${randomUUID()}@example.test`);
    const takes = Array.from({ length: 40 }, (_, i) =>
      directoryStore.recipientToSend(pools[1 + (i % 2)]!, user.id, {
        kind: 'order_failed',
        exempt: false,
        max: MAX,
        receiptsMax: RECEIPTS_MAX,
        windowMs: 3_600_000,
      }),
    );
    const rows = await Promise.all(takes);
    expect(rows.filter((r) => r?.slot !== null)).toHaveLength(MAX);
    const { rows: budget } = await pools[0]!.query<{ n: number }>(
      'SELECT cardinality(sent_at) AS n FROM recipient_budgets WHERE address_digest = $1',
      [rows[0]!.address_digest],
    );
    expect(budget).toEqual([{ n: MAX }]);
  });

  it('counts variants of one mailbox (letter case, +suffix) as one address', async () => {
    const box = `mailbox-${randomUUID()}`;
    const variants = [
      `${box}@example.test`,
      `${box.toUpperCase()}+1@Example.TEST`,
      `${box}+promo@example.test`,
    ];
    const orders: string[] = [];
    for (const email of variants) {
      orders.push(...(await notify(await customer(email), 'order_cancelled', MAX)));
    }
    await sendAll();
    const sent = smtp.mails.filter((m) => m.to.some((to) => to.toLowerCase().includes(box)));
    expect(sent).toHaveLength(MAX);
    expect((await statuses(orders)).filter((s) => s.status === 'SENT')).toHaveLength(MAX);
  });

  it('sends receipts (a paid order confirmed, a refund) past the budget, up to their own cap, and they use up the budget of the other kinds', async () => {
    const email = `receipts-${randomUUID()}@example.test`;
    const user = await customer(email);
    const receipts = [
      ...(await notify(user, 'order_confirmed', MAX + 2)),
      ...(await notify(user, 'payment_refunded', 1)),
    ];
    await sendAll();
    expect((await statuses(receipts)).map((s) => s.status)).toEqual(receipts.map(() => 'SENT'));
    const failed = await notify(user, 'order_failed', 1);
    await sendAll();
    expect((await statuses(failed)).map((s) => s.last_error)).toEqual(['RECIPIENT_RATE_LIMITED']);
    expect(smtp.to(email)).toHaveLength(MAX + 3);
    // A payment costs nothing with the deterministic gateway: an order paid and cancelled in a
    // loop stops at the receipts' cap too.
    const looped = await notify(user, 'payment_refunded', RECEIPTS_MAX);
    await sendAll();
    const looping = await statuses(looped);
    expect(looping.filter((s) => s.status === 'SENT')).toHaveLength(RECEIPTS_MAX - (MAX + 3));
    expect(looping.filter((s) => s.last_error === 'RECIPIENT_RATE_LIMITED')).toHaveLength(MAX + 3);
    expect(smtp.to(email)).toHaveLength(RECEIPTS_MAX);
  });

  it('gives the slot of a failed send back: a relay refusing does not spend the budget', async () => {
    const email = `refused-${randomUUID()}@example.test`;
    const user = await customer(email);
    smtp.refuseRecipient.set(email, { code: 451, text: 'try later' });
    const refused = await notify(user, 'order_shipped', MAX + 1);
    await sendAll();
    // Two temporary failures each (maxAttempts 2): FAILED, every slot given back.
    expect((await statuses(refused)).map((s) => s.status)).toEqual(refused.map(() => 'FAILED'));
    smtp.refuseRecipient.delete(email);
    const later = await notify(user, 'order_shipped', MAX);
    await sendAll();
    expect((await statuses(later)).map((s) => s.status)).toEqual(later.map(() => 'SENT'));
    expect(smtp.to(email)).toHaveLength(MAX);
  });

  it('gives an address its budget again once its mails leave the window, and forgets it then', async () => {
    const windowMs = 1500;
    const sender = newSender(pools[0]!, windowMs);
    const email = `window-${randomUUID()}@example.test`;
    const user = await customer(email);
    const first = await notify(user, 'order_delivered', MAX + 1);
    await sendAll([sender]);
    expect((await statuses(first)).filter((s) => s.status === 'SENT')).toHaveLength(MAX);
    await sleep(windowMs + 100);
    const second = await notify(user, 'order_delivered', 1);
    await sendAll([sender]);
    expect((await statuses(second)).map((s) => s.status)).toEqual(['SENT']);
    expect(smtp.to(email)).toHaveLength(MAX + 1);

    // A row whose last mail left the window is deleted (by a pass, once per window).
    await sleep(windowMs + 100);
    await sender.run();
    const { rows } = await pools[0]!.query(
      "SELECT 1 FROM recipient_budgets WHERE last_sent_at < now() - interval '1.5 seconds'",
    );
    expect(rows).toEqual([]);
  });

  it('reads the budget from NOTIFY_RECIPIENT_MAX_PER_HOUR (20 by default) and refuses a bad one', () => {
    expect(testConfig(db.url, 1025).NOTIFY_RECIPIENT_MAX_PER_HOUR).toBe(20);
    expect(
      testConfig(db.url, 1025, { NOTIFY_RECIPIENT_MAX_PER_HOUR: '3' })
        .NOTIFY_RECIPIENT_MAX_PER_HOUR,
    ).toBe(3);
    for (const bad of ['0', '-1', 'many']) {
      expect(() => testConfig(db.url, 1025, { NOTIFY_RECIPIENT_MAX_PER_HOUR: bad })).toThrow(
        /NOTIFY_RECIPIENT_MAX_PER_HOUR/,
      );
    }
  });
});
