import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { InMemoryEventBus, createEvent, type EventEnvelope } from '@ecom/common/bus';
import type { AuthUser } from '@ecom/common/auth';
import type { EventData, EventType } from '@ecom/common/events';
import type { ResponseSpec } from '@ecom/common/http';
import {
  createTestPostgres,
  eventually,
  expectReady,
  requestsAs,
  queryText,
  sleep,
  type TestPostgres,
} from '@ecom/test-support';
import { NOTIFICATION_KINDS } from '../src/domain/kinds';
import { notificationApi } from '../src/http/api';
import { notificationStore } from '../src/store/notification-store';
import { notificationService, type RunningNotificationService } from '../src/service';
import { SMTP_PORTS, STARTUP_TIMEOUT_MS, TestSmtp, testConfig } from './support';

const alice: AuthUser = { id: 'user-alice', role: 'customer' };
const bob: AuthUser = { id: 'user-bob', role: 'customer' };
const admin: AuthUser = { id: 'user-admin', role: 'admin' };
const EMAIL: Record<string, string> = {
  [alice.id]: 'alice@example.test',
  [bob.id]: 'bob@example.test',
};

interface Listed {
  id: string;
  kind: string;
  status: string;
  orderId: string | null;
  userId: string | null;
  recipient: string | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  attempts: { attempt: number; outcome: string; detail: string | null }[];
}

/** Fails the test when an answer does not match the schema its operation declares. */
function matchesSpec(operation: keyof typeof notificationApi.operations, body: unknown) {
  const { schema, list }: ResponseSpec = notificationApi.operations[operation].response;
  const items = list ? (body as { items: unknown[] }).items : [body];
  for (const item of items) {
    const { error } = schema!.validate(item, { presence: 'required' });
    expect(error?.message).toBeUndefined();
  }
}

const event = <T extends EventType>(source: string, type: T, data: EventData<T>) =>
  createEvent(source, type, data) as EventEnvelope;

const userCreated = (userId: string, email: string, name = 'Someone') =>
  event('auth-service', 'user.created', { userId, email, name, role: 'customer' });
const confirmed = (orderId: string, userId: string) =>
  event('order-service', 'order.confirmed', {
    orderId,
    userId,
    items: [{ productId: 'p1', quantity: 1 }],
    total: { amount: 1250, currency: 'USD' },
  });

describe('notification service (real PostgreSQL, real SMTP server, in-memory bus)', () => {
  let db: TestPostgres;
  let bus: InMemoryEventBus;
  let smtp: TestSmtp;
  let service: RunningNotificationService;
  const api = () => request(service.app);
  const asUser = (user: AuthUser) => requestsAs(api, user);

  const start = async () => {
    service = await notificationService.start({
      config: testConfig(db.url, smtp.port),
      bus,
    });
  };

  beforeAll(async () => {
    db = await createTestPostgres('notification_component');
    bus = new InMemoryEventBus({ retry: { baseDelayMs: 10, maxAttempts: 5 } });
    smtp = new TestSmtp(SMTP_PORTS.component);
    await smtp.start();
    await start();
    await bus.publish(userCreated(alice.id, EMAIL[alice.id]!, 'Alice'));
    await bus.publish(userCreated(bob.id, EMAIL[bob.id]!, 'Bob'));
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    await service?.stop();
    await bus?.close();
    await smtp?.stop();
    await db?.cleanup();
  });

  /** The notifications of `user` about `orderId`, as the user lists them. */
  async function listed(user: AuthUser, orderId: string): Promise<Listed[]> {
    const res = await asUser(user).get('/api/notifications?limit=100');
    expect(res.status).toBe(200);
    return (res.body.items as Listed[]).filter((n) => n.orderId === orderId);
  }

  async function waitFor(user: AuthUser, orderId: string, kind: string, status: string) {
    return eventually(
      async () => (await listed(user, orderId)).find((n) => n.kind === kind && n.status === status),
      { what: `${kind} of ${orderId} ${status}`, timeoutMs: 20_000 },
    );
  }

  const mailsAbout = (orderId: string) => smtp.mails.filter((m) => m.raw.includes(orderId));

  it('is ready with PostgreSQL and the bus', async () => {
    await expectReady(api, ['postgres', 'eventBus']);
  });

  it('sends one mail per event to the customer whose order it is, and records the attempt', async () => {
    const mine = randomUUID();
    const bobs = randomUUID();
    await bus.publish(confirmed(mine, alice.id));
    await bus.publish(confirmed(bobs, bob.id));

    const sent = await waitFor(alice, mine, 'order_confirmed', 'SENT');
    expect(sent).toMatchObject({
      recipient: EMAIL[alice.id],
      attempts: [{ attempt: 1, outcome: 'SENT', detail: null }],
    });
    await waitFor(bob, bobs, 'order_confirmed', 'SENT');
    expect(mailsAbout(mine).map((m) => m.to)).toEqual([[EMAIL[alice.id]]]);
    expect(mailsAbout(bobs).map((m) => m.to)).toEqual([[EMAIL[bob.id]]]);
    expect(mailsAbout(mine)[0]!.messageId).toBe(`<${sent.id}@notification.ecom.local>`);
    // Neither the greeting nor the To header carries the account's display name.
    expect(mailsAbout(mine)[0]!.raw).not.toContain('Alice');
    expect(mailsAbout(mine)[0]!.raw).toMatch(/^To: alice@example\.test\r?$/m);
  });

  it('keeps its SMTP connection open: mails sent one after another do not each connect', async () => {
    const before = smtp.connections;
    const orders = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    for (const orderId of orders) {
      await bus.publish(confirmed(orderId, alice.id));
      await waitFor(alice, orderId, 'order_confirmed', 'SENT');
    }
    expect(orders.map((id) => mailsAbout(id).length)).toEqual([1, 1, 1, 1]);
    // One connection a mail before; now one is reused (another only if one idled out).
    expect(smtp.connections - before).toBeLessThan(orders.length);
  });

  it('sends every kind a customer cares about, each event naming its customer (order.created is not read)', async () => {
    const orderId = randomUUID();
    await bus.publish(
      event('order-service', 'order.shipped', {
        orderId,
        userId: alice.id,
        items: [{ productId: 'p1', quantity: 1 }],
        fullyShipped: true,
      }),
    );
    await bus.publish(event('order-service', 'order.completed', { orderId, userId: alice.id }));
    await bus.publish(
      event('payment-service', 'payment.refunded', {
        paymentId: randomUUID(),
        orderId,
        refundId: randomUUID(),
        amount: { amount: 500, currency: 'USD' },
        fullyRefunded: false,
        userId: alice.id,
      }),
    );
    const failedOrder = randomUUID();
    await bus.publish(
      event('order-service', 'order.failed', {
        orderId: failedOrder,
        userId: bob.id,
        reason: 'INSUFFICIENT_STOCK',
        items: [],
      }),
    );
    const cancelled = randomUUID();
    await bus.publish(
      event('order-service', 'order.cancelled', {
        orderId: cancelled,
        userId: bob.id,
        reason: 'customer',
        previousStatus: 'CONFIRMED',
        items: [],
      }),
    );
    for (const kind of ['order_shipped', 'order_delivered', 'payment_refunded']) {
      await waitFor(alice, orderId, kind, 'SENT');
    }
    await waitFor(bob, failedOrder, 'order_failed', 'SENT');
    await waitFor(bob, cancelled, 'order_cancelled', 'SENT');
    expect(mailsAbout(orderId)).toHaveLength(3);
    expect(mailsAbout(failedOrder)).toHaveLength(1);
    expect(mailsAbout(cancelled).map((m) => m.to)).toEqual([[EMAIL[bob.id]]]);
    expect(mailsAbout(orderId).some((m) => m.raw.includes('$5.00'))).toBe(true);
  });

  it('mails no words an account wrote: not its display name, not the reason it typed for a cancel', async () => {
    // Accounts are not e-mail verified: anyone can register someone else's address.
    const mallory = `user-mallory-${randomUUID()}`;
    const victim = `victim-${randomUUID()}@victim.example`;
    await bus.publish(userCreated(mallory, victim, 'Security team: call +1 555 0100'));
    const orderId = randomUUID();
    await bus.publish(
      event('order-service', 'order.cancelled', {
        orderId,
        userId: mallory,
        reason: 'Call +1-555-0100 to claim your refund',
        previousStatus: 'AWAITING_PAYMENT',
        items: [],
      }),
    );
    await waitFor({ id: mallory, role: 'customer' }, orderId, 'order_cancelled', 'SENT');
    const [mail] = mailsAbout(orderId);
    expect(mail!.to).toEqual([victim]);
    expect(mail!.raw).not.toContain('555');
    expect(mail!.raw).not.toContain('Security team');
    expect(mail!.raw).not.toContain('claim');
    expect(mail!.raw).toContain('Hello,');
  });

  it('mails one address at most NOTIFY_RECIPIENT_MAX_PER_HOUR (20) times an hour: the rest are SKIPPED, listed and counted', async () => {
    const flooded = { id: `user-flooded-${randomUUID()}`, role: 'customer' as const };
    const address = `flooded-${randomUUID()}@victim.example`;
    await bus.publish(userCreated(flooded.id, address));
    const orders = Array.from({ length: 22 }, () => randomUUID());
    for (const orderId of orders) {
      await bus.publish(
        event('order-service', 'order.failed', {
          orderId,
          userId: flooded.id,
          reason: 'payment failed: card_declined (Your card was declined.)',
          items: [],
        }),
      );
    }
    const settled = await eventually(
      async () => {
        const res = await asUser(flooded).get('/api/notifications?limit=100');
        const items = res.body.items as Listed[];
        return items.length === orders.length && items.every((n) => n.status !== 'PENDING')
          ? res.body
          : null;
      },
      { what: 'every notification settled', timeoutMs: 20_000 },
    );
    matchesSpec('listNotifications', settled);
    const items = settled.items as Listed[];
    expect(items.filter((n) => n.status === 'SENT')).toHaveLength(20);
    const skipped = items.filter((n) => n.status === 'SKIPPED');
    expect(skipped).toHaveLength(2);
    for (const n of skipped) {
      expect(n.attempts).toEqual([
        expect.objectContaining({ outcome: 'SKIPPED', detail: 'RECIPIENT_RATE_LIMITED' }),
      ]);
    }
    expect(smtp.to(address)).toHaveLength(20);
    const metrics = await api().get('/metrics');
    expect(metrics.text).toMatch(
      /^notifications_rate_limited_total\{[^}]*kind="order_failed"[^}]*\} 2$/m,
    );
  });

  it('a duplicate event, or the same fact under a new event id, sends one mail', async () => {
    const orderId = randomUUID();
    const once = confirmed(orderId, alice.id);
    await bus.publish(once);
    await bus.publish(once);
    // The order service announces an outcome again (new event id) when a reservation is overdue.
    await bus.publish(confirmed(orderId, alice.id));
    await waitFor(alice, orderId, 'order_confirmed', 'SENT');
    await sleep(500); // time for a wrong second send
    expect(await listed(alice, orderId)).toHaveLength(1);
    expect(mailsAbout(orderId)).toHaveLength(1);
  });

  it('records an opted-out kind as SKIPPED and sends nothing; opting back in sends again', async () => {
    const res = await asUser(bob)
      .put('/api/notifications/preferences')
      .send({ kinds: { order_shipped: false } });
    expect(res.status).toBe(200);
    matchesSpec('setNotificationPreferences', res.body);
    expect(res.body.kinds).toMatchObject({ order_shipped: false, order_confirmed: true });
    const got = await asUser(bob).get('/api/notifications/preferences');
    expect(got.body.kinds.order_shipped).toBe(false);

    const orderId = randomUUID();
    const shipped = (productId: string) =>
      event('order-service', 'order.shipped', {
        orderId,
        userId: bob.id,
        items: [{ productId, quantity: 1 }],
        fullyShipped: false,
      });
    await bus.publish(shipped('p1'));
    const skipped = await waitFor(bob, orderId, 'order_shipped', 'SKIPPED');
    expect(skipped.attempts).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'SKIPPED', detail: 'OPTED_OUT' }),
    ]);
    expect(mailsAbout(orderId)).toHaveLength(0);

    await asUser(bob)
      .put('/api/notifications/preferences')
      .send({ kinds: { order_shipped: true } })
      .expect(200);
    await bus.publish(shipped('p2')); // another shipment of the order
    await waitFor(bob, orderId, 'order_shipped', 'SENT');
    expect(mailsAbout(orderId)).toHaveLength(1);
  });

  describe('preferences changed concurrently', () => {
    const KINDS = NOTIFICATION_KINDS;
    const someone = (): AuthUser => ({ id: `user-prefs-${randomUUID()}`, role: 'customer' });
    const put = (user: AuthUser, kinds: Record<string, boolean>) =>
      asUser(user).put('/api/notifications/preferences').send({ kinds });

    it('six opt-outs at once, one per kind, all apply (each answers the state after it)', async () => {
      for (let round = 0; round < 5; round++) {
        const user = someone();
        const answers = await Promise.all(KINDS.map((k) => put(user, { [k]: false })));
        for (const [i, res] of answers.entries()) {
          expect(res.status).toBe(200);
          // The answer has at least its own change (and whatever committed before it).
          expect(res.body.kinds[KINDS[i]!]).toBe(false);
        }
        const got = await asUser(user).get('/api/notifications/preferences');
        expect(got.body.kinds).toEqual(Object.fromEntries(KINDS.map((k) => [k, false])));
      }
    });

    it('opt-ins and opt-outs of different kinds at once all apply', async () => {
      for (let round = 0; round < 5; round++) {
        const user = someone();
        const [back, away] = [KINDS.slice(0, 3), KINDS.slice(3)];
        await put(user, Object.fromEntries(back.map((k) => [k, false]))).expect(200);
        const answers = await Promise.all([
          ...back.map((k) => put(user, { [k]: true })),
          ...away.map((k) => put(user, { [k]: false })),
        ]);
        expect(answers.map((r) => r.status)).toEqual(KINDS.map(() => 200));
        const got = await asUser(user).get('/api/notifications/preferences');
        expect(got.body.kinds).toEqual({
          ...Object.fromEntries(back.map((k) => [k, true])),
          ...Object.fromEntries(away.map((k) => [k, false])),
        });
      }
    });
  });

  it('an event about a customer not known yet waits for their user.created, then is sent', async () => {
    const carol = { id: `user-carol-${randomUUID()}`, role: 'customer' as const };
    const orderId = randomUUID();
    await bus.publish(confirmed(orderId, carol.id));
    const waiting = await eventually(
      async () =>
        (await listed(carol, orderId)).find(
          (n) => n.status === 'PENDING' && n.lastError?.startsWith('RECIPIENT_UNKNOWN'),
        ),
      { what: 'waiting for the recipient' },
    );
    expect(waiting.attempts).toEqual([]);
    await bus.publish(userCreated(carol.id, 'carol@example.test', 'Carol'));
    await waitFor(carol, orderId, 'order_confirmed', 'SENT');
    expect(mailsAbout(orderId).map((m) => m.to)).toEqual([['carol@example.test']]);
  });

  it('lists a notification with the attempts its state counts, also when one is recorded mid-listing', async () => {
    const someone: AuthUser = { id: `user-${randomUUID()}`, role: 'customer' };
    const orderId = randomUUID();
    await bus.publish(confirmed(orderId, someone.id));
    const waiting = await eventually(
      async () => (await listed(someone, orderId)).find((n) => n.lastError !== null),
      { what: 'waiting for the recipient' },
    );
    // The listing reads the notifications, then their attempts: hold it between the two while
    // an attempt and the notification's new state are recorded (as the sender does, at once).
    const between = await service.pool.connect();
    try {
      await between.query('BEGIN');
      await between.query('LOCK TABLE notification_attempts IN ACCESS EXCLUSIVE MODE');
      const listing = listed(someone, orderId);
      await eventually(
        async () =>
          (
            await service.pool.query(
              `SELECT 1 FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND query LIKE '%FROM notification_attempts WHERE%'`,
            )
          ).rowCount,
        { what: 'the listing waiting for the attempts' },
      );
      const reason = 'MAIL_SERVER_UNREACHABLE: the mail server could not be reached';
      await notificationStore.recordAttempt(
        between,
        waiting.id,
        { number: 1, outcome: 'FAILED', detail: reason },
        { status: 'PENDING', next: new Date(Date.now() + 60_000) },
      );
      await between.query('COMMIT');
      // As of the notification it read: no attempt yet, waiting for the customer.
      const [before] = await listing;
      expect(before).toMatchObject({ status: 'PENDING', attempts: [] });
      expect(before!.lastError).toMatch(/^RECIPIENT_UNKNOWN/);
      const [after] = await listed(someone, orderId);
      expect(after).toMatchObject({
        lastError: reason,
        attempts: [expect.objectContaining({ attempt: 1, detail: reason })],
      });
    } finally {
      await between.query('ROLLBACK'); // nothing left open when a step above failed
      between.release();
    }
  });

  it('an older order event naming no user waits for an event of the order that names its customer', async () => {
    const orderId = randomUUID();
    // As published before every order event named its customer.
    await bus.publish(event('order-service', 'order.completed', { orderId }));
    await sleep(300);
    expect(mailsAbout(orderId)).toHaveLength(0);
    await bus.publish(confirmed(orderId, alice.id));
    await waitFor(alice, orderId, 'order_delivered', 'SENT');
    await waitFor(alice, orderId, 'order_confirmed', 'SENT');
    expect(mailsAbout(orderId).map((m) => m.to)).toEqual([[EMAIL[alice.id]], [EMAIL[alice.id]]]);
  });

  it('an event naming its customer costs one round trip (BEGIN, the key, the writes, COMMIT) and gives an older one its owner; an owner id with quotes and $ arrives intact', async () => {
    const orderId = randomUUID();
    const owner = `it's $' $& \\ ü ${randomUUID()}`;
    // An older event naming no user waits for one that does.
    await bus.publish(event('order-service', 'order.completed', { orderId }));
    const ownerOf = async () =>
      (
        await service.pool.query<{ user_id: string | null }>(
          'SELECT user_id FROM notifications WHERE order_id = $1 ORDER BY kind',
          [orderId],
        )
      ).rows;
    await eventually(async () => (await ownerOf()).length === 1, { what: 'the waiting one' });
    expect(await ownerOf()).toEqual([{ user_id: null }]);

    const owned = confirmed(orderId, owner);
    const queries = jest.spyOn(Client.prototype, 'query');
    try {
      await bus.publish(owned);
      await eventually(async () => (await ownerOf()).length === 2, { what: 'the confirmation' });
      // The calls on the client that sent this event's key, up to its COMMIT.
      const keyed = queries.mock.calls.findIndex(([text]) =>
        queryText(text).includes(owned.eventId),
      );
      const mine = queries.mock.calls.filter(
        (_, i) => i >= keyed && queries.mock.contexts[i] === queries.mock.contexts[keyed],
      );
      // Nothing between the key and the COMMIT: the owner and the notification go with them.
      expect(queryText(mine[0]![0])).toMatch(/^BEGIN;.*INSERT INTO notifications\s.*COMMIT$/s);
      expect(queryText(mine[0]![0])).toContain('order_owners');
      expect(mine.slice(1).some(([text]) => /\bCOMMIT\b/.test(queryText(text)))).toBe(false);
    } finally {
      queries.mockRestore();
    }
    expect(await ownerOf()).toEqual([{ user_id: owner }, { user_id: owner }]);
    const { rows } = await service.pool.query(
      'SELECT user_id FROM order_owners WHERE order_id = $1',
      [orderId],
    );
    expect(rows).toEqual([{ user_id: owner }]);
  });

  it('a deleted customer is not written to (SKIPPED), and their address is forgotten', async () => {
    const dave = `user-dave-${randomUUID()}`;
    await bus.publish(userCreated(dave, 'dave@example.test'));
    await bus.publish(event('auth-service', 'user.deleted', { userId: dave }));
    // The bus does not order events: the deletion is known before the order event comes.
    await eventually(
      async () => {
        const { rows } = await service.pool.query(
          'SELECT 1 FROM recipients WHERE user_id = $1 AND deleted',
          [dave],
        );
        return rows.length > 0;
      },
      { what: 'dave known as deleted' },
    );
    const orderId = randomUUID();
    await bus.publish(
      event('order-service', 'order.cancelled', {
        orderId,
        userId: dave,
        reason: 'ACCOUNT_DELETED',
        previousStatus: 'CONFIRMED',
        items: [],
      }),
    );
    await waitFor({ id: dave, role: 'customer' }, orderId, 'order_cancelled', 'SKIPPED');
    const { rows } = await service.pool.query('SELECT email FROM recipients WHERE user_id = $1', [
      dave,
    ]);
    expect(rows).toEqual([{ email: null }]);
    expect(mailsAbout(orderId)).toHaveLength(0);
  });

  it('survives an SMTP server down for a while and a restart: sent exactly once when it returns', async () => {
    await smtp.stop();
    const orderId = randomUUID();
    await bus.publish(confirmed(orderId, alice.id));
    // Attempts fail and are recorded, with the next one scheduled later and later.
    const failing = await eventually(
      async () => {
        const n = (await listed(alice, orderId))[0];
        return n && n.attempts.length >= 2 ? n : null;
      },
      { what: 'two failed attempts', timeoutMs: 20_000 },
    );
    expect(failing.status).toBe('PENDING');
    expect(failing.attempts.every((a) => a.outcome === 'FAILED')).toBe(true);
    // No reply at all (or the 421 of a server closing a pooled connection): temporary codes.
    for (const a of failing.attempts) {
      expect([
        'MAIL_SERVER_UNREACHABLE: the mail server could not be reached',
        'MAIL_SERVER_UNAVAILABLE: the mail server could not take the message',
      ]).toContain(a.detail);
    }

    // The service stops while the mail is still owed, and a new instance takes over.
    await service.stop();
    await start();
    await smtp.start();
    const sent = await waitFor(alice, orderId, 'order_confirmed', 'SENT');
    expect(sent.attempts.at(-1)).toMatchObject({ outcome: 'SENT' });
    expect(sent.attempts.slice(0, -1).every((a) => a.outcome === 'FAILED')).toBe(true);
    await sleep(800); // a later pass must not send it again
    expect(mailsAbout(orderId)).toHaveLength(1);
  }, 60_000);

  describe('a mail server that refuses', () => {
    /** Words a relay may put in its reply that a customer must not see. */
    const INTERNAL = 'relay-7.corp.internal';
    const newCustomer = async (): Promise<{ user: AuthUser; email: string }> => {
      const user: AuthUser = { id: `user-${randomUUID()}`, role: 'customer' };
      const email = `${user.id}@example.test`;
      await bus.publish(userCreated(user.id, email));
      return { user, email };
    };
    /** The user's notification about the order once it has `attempts` attempts. */
    const afterAttempts = (user: AuthUser, orderId: string, attempts: number) =>
      eventually(
        async () => {
          const n = (await listed(user, orderId))[0];
          return n && n.attempts.length >= attempts ? n : null;
        },
        { what: `${attempts} attempts of ${orderId}`, timeoutMs: 20_000 },
      );

    it('a permanent refusal of the address (5xx) is FAILED at once, with a code and no server words, and not tried again', async () => {
      const { user, email } = await newCustomer();
      smtp.refuseRecipient.set(email, {
        code: 501,
        text: `Error: Bad recipient address syntax (${INTERNAL})`,
      });
      const orderId = randomUUID();
      await bus.publish(confirmed(orderId, user.id));
      const failed = await afterAttempts(user, orderId, 1);
      const reason = 'RECIPIENT_REFUSED: the mail server refused the address';
      expect(failed).toMatchObject({
        status: 'FAILED',
        nextAttemptAt: null,
        lastError: reason,
        attempts: [expect.objectContaining({ attempt: 1, outcome: 'FAILED', detail: reason })],
      });
      // Neither the customer nor an admin is shown the server's reply.
      const mine = await asUser(user).get('/api/notifications');
      const admins = await asUser(admin).get(`/api/notifications?userId=${user.id}`);
      matchesSpec('listNotifications', mine.body);
      for (const body of [JSON.stringify(mine.body), JSON.stringify(admins.body)]) {
        expect(body).not.toContain(INTERNAL);
        expect(body).not.toContain('Bad recipient');
        expect(body).not.toContain('SMTP');
      }
      // A whole pass after it finds nothing of it to do: one RCPT was all the server got.
      await eventually(async () => (await service.sender.run()) !== null, { what: 'a pass' });
      expect((await listed(user, orderId))[0]!.attempts).toHaveLength(1);
      expect(smtp.rcpts.get(email)).toBe(1);
    });

    it('a temporary refusal (4xx) is retried on the schedule, with a code and no server words, until it is taken', async () => {
      const { user, email } = await newCustomer();
      smtp.refuseRecipient.set(email, {
        code: 451,
        text: `4.3.0 ${INTERNAL} is busy, try later`,
      });
      const orderId = randomUUID();
      await bus.publish(confirmed(orderId, user.id));
      const failing = await afterAttempts(user, orderId, 2);
      const reason = 'MAIL_SERVER_UNAVAILABLE: the mail server could not take the message';
      expect(failing.status).toBe('PENDING');
      expect(failing.lastError).toBe(reason);
      expect(failing.attempts.map((a) => [a.outcome, a.detail])).toEqual(
        failing.attempts.map(() => ['FAILED', reason]),
      );
      smtp.refuseRecipient.delete(email);
      const sent = await waitFor(user, orderId, 'order_confirmed', 'SENT');
      expect(sent.lastError).toBeNull();
      expect(mailsAbout(orderId).map((m) => m.to)).toEqual([[email]]);
    });
  });

  describe('listing', () => {
    it('a customer lists only their own, in the list envelope; an admin filters by user', async () => {
      const res = await asUser(bob).get('/api/notifications?limit=100');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ page: 1, limit: 100 });
      expect(res.body.total).toBeGreaterThan(0);
      matchesSpec('listNotifications', res.body);
      expect((res.body.items as Listed[]).every((n) => n.userId === bob.id)).toBe(true);

      const paged = await asUser(bob).get('/api/notifications?limit=1&page=2');
      expect(paged.body).toMatchObject({ page: 2, limit: 1, total: res.body.total });
      expect(paged.body.items).toHaveLength(1);

      const all = await asUser(admin).get('/api/notifications?limit=100');
      expect((all.body.items as Listed[]).some((n) => n.userId === alice.id)).toBe(true);
      const filtered = await asUser(admin).get(`/api/notifications?userId=${alice.id}&limit=100`);
      expect(filtered.body.items.length).toBeGreaterThan(0);
      expect((filtered.body.items as Listed[]).every((n) => n.userId === alice.id)).toBe(true);
      const sentOnly = await asUser(alice).get('/api/notifications?status=SENT&kind=order_shipped');
      expect((sentOnly.body.items as Listed[]).every((n) => n.kind === 'order_shipped')).toBe(true);
    });

    it('refuses bad input with a 4xx in the common error shape, and changes nothing', async () => {
      const before = await asUser(alice).get('/api/notifications/preferences');
      const cases = [
        asUser(alice).get(`/api/notifications?userId=${bob.id}`),
        asUser(alice).get('/api/notifications?limit=0'),
        asUser(alice).get('/api/notifications?status=LOST'),
        asUser(alice)
          .put('/api/notifications/preferences')
          .send({ kinds: { spam: false } }),
        asUser(alice)
          .put('/api/notifications/preferences')
          .send({ kinds: { order_shipped: 'no' } }),
        asUser(alice).put('/api/notifications/preferences').send({ kinds: {} }),
        asUser(alice).put('/api/notifications/preferences').send([]),
        api().get('/api/notifications'),
        api()
          .put('/api/notifications/preferences')
          .send({ kinds: { order_shipped: false } }),
      ];
      const statuses = [];
      for (const pending of cases) {
        const res = await pending;
        statuses.push(res.status);
        expect(res.body.error).toEqual(
          expect.objectContaining({ code: expect.any(String), message: expect.any(String) }),
        );
      }
      expect(statuses).toEqual([403, 400, 400, 400, 400, 400, 400, 401, 401]);
      const after = await asUser(alice).get('/api/notifications/preferences');
      expect(after.body).toEqual(before.body);
    });
  });
});
