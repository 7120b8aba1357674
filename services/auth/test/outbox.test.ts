import { InMemoryEventBus } from '@ecom/common/bus';
import request from 'supertest';
import { trusted } from 'mongoose';
import { FlakyBus, spyOnEvents } from '@ecom/test-support';
import { ADMIN, newUser, startTestAuth, type TestAuth } from './support';

let t: TestAuth;
let flaky: FlakyBus;
let spy: Awaited<ReturnType<typeof spyOnEvents>>;
beforeAll(async () => {
  const inner = new InMemoryEventBus();
  flaky = new FlakyBus(inner);
  spy = await spyOnEvents(inner, ['user.created']);
  t = await startTestAuth('auth_outbox', { bus: flaky });
  // These tests drive the relay by hand (flushOutbox) with a clock they move.
  await t.auth.outbox.stop();
});
afterAll(async () => {
  await t.close();
  await flaky.close();
});

const outbox = () => t.auth.outbox;
const createdFor = (email: string) =>
  spy.of('user.created').filter((e) => (e.data as { email: string }).email === email);

it('keeps the event when the bus is down and the relay sends it once the bus is back', async () => {
  flaky.down = true;
  const { user } = await newUser(t.app, 'outage@example.test'); // the request itself succeeds
  await flaky.inner.idle();
  expect(createdFor('outage@example.test')).toEqual([]);
  const row = await outbox().model.findOne({ 'event.data.userId': user.id }).lean();
  expect(row).toMatchObject({ sentAt: null, attempts: 0, event: { eventType: 'user.created' } });

  // Fresh rows are left to the direct send for a grace period.
  expect(await t.auth.flushOutbox()).toBe(0);

  // Due now, but the bus is still down: the attempt is counted and pushed back.
  t.clock.advance(6000);
  expect(await t.auth.flushOutbox()).toBe(0);
  const failed = await outbox().model.findById(row!._id).lean();
  expect(failed).toMatchObject({ sentAt: null, attempts: 1, lastError: 'broker unreachable' });
  expect(failed!.nextAttemptAt.getTime()).toBeGreaterThan(t.clock.now().getTime());

  flaky.down = false;
  t.clock.advance(6000);
  expect(await t.auth.flushOutbox()).toBe(1);
  await flaky.inner.idle();
  const delivered = createdFor('outage@example.test');
  expect(delivered).toHaveLength(1);
  expect(delivered[0].eventId).toBe(row!._id);
  expect(delivered[0].data).toEqual({
    userId: user.id,
    email: 'outage@example.test',
    name: 'Test User',
    role: 'customer',
  });
  expect((await outbox().model.findById(row!._id).lean())!.sentAt).toBeInstanceOf(Date);

  // Nothing left: a later round sends nothing again.
  t.clock.advance(60_000);
  expect(await t.auth.flushOutbox()).toBe(0);
  expect(await outbox().pendingCount()).toBe(0);
});

it('the relay timer sends pending events by itself and stops cleanly', async () => {
  flaky.down = true;
  await newUser(t.app, 'timer@example.test');
  flaky.down = false;
  t.clock.advance(6000);
  t.auth.outbox.start();
  try {
    for (let i = 0; i < 100 && (await outbox().pendingCount()) > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await flaky.inner.idle();
    expect(createdFor('timer@example.test')).toHaveLength(1);
  } finally {
    await t.auth.outbox.stop();
  }
});

it('two instances relaying at once send each event only once (lease)', async () => {
  const other = await t.secondInstance();
  await other.outbox.stop();
  flaky.down = true;
  for (let i = 0; i < 5; i += 1) await newUser(t.app, `lease${i}@example.test`);
  flaky.down = false;
  t.clock.advance(6000);
  const before = flaky.publishes;
  const [a, b] = await Promise.all([t.auth.flushOutbox(), other.flushOutbox()]);
  expect(a + b).toBe(5);
  expect(flaky.publishes - before).toBe(5);
  await flaky.inner.idle();
  for (let i = 0; i < 5; i += 1) expect(createdFor(`lease${i}@example.test`)).toHaveLength(1);
});

// The connection sanitizes filters (`trusted` marks this test's own operator as intended).
it('purges sent rows after a day', async () => {
  const sent = await outbox().model.countDocuments({ sentAt: trusted({ $ne: null }) });
  expect(sent).toBeGreaterThan(0);
  expect(await outbox().purgeSent(new Date(t.clock.now().getTime() - 86400_000))).toBe(0);
  expect(await outbox().purgeSent(new Date(t.clock.now().getTime() + 1000))).toBe(sent);
  expect(await outbox().model.countDocuments()).toBe(0);
});

it('reports the bus in readiness as degrading it, not as unready (events wait in the outbox)', async () => {
  flaky.down = true;
  const down = await request(t.app).get('/health/ready');
  expect(down.status).toBe(200);
  expect(down.body.status).toBe('degraded');
  expect(down.body.checks.eventBus.status).toBe('down');
  expect(down.body.checks.mongodb.status).toBe('up');
  flaky.down = false;
  const up = await request(t.app).get('/health/ready');
  expect(up.status).toBe(200);
  expect(up.body.status).toBe('ok');
});

describe('the user and its event commit together (one transaction)', () => {
  it('a registration whose outbox insert fails leaves neither the user nor the event', async () => {
    // The outbox writes its row through the driver (the model's collection, the same object).
    const failing = jest
      .spyOn(outbox().model.collection, 'insertOne')
      .mockRejectedValueOnce(new Error('outbox insert failed'));
    try {
      const res = await request(t.app)
        .post('/api/auth/register')
        .send({ email: 'atomic@example.test', password: 'Correct-horse-9', name: 'Atomic' });
      expect(res.status).toBe(500);
    } finally {
      failing.mockRestore();
    }
    expect(await t.auth.stores.users.model.countDocuments({ email: 'atomic@example.test' })).toBe(
      0,
    );
    expect(
      await outbox().model.countDocuments({ 'event.data.email': trusted('atomic@example.test') }),
    ).toBe(0);
    await flaky.inner.idle();
    expect(createdFor('atomic@example.test')).toEqual([]);
    // The email is free: the rolled-back registration took nothing.
    const again = await newUser(t.app, 'atomic@example.test');
    expect(again.user.email).toBe('atomic@example.test');
  });

  it('a role change whose outbox insert fails is rolled back', async () => {
    const { user } = await newUser(t.app, 'role-atomic@example.test');
    // The outbox writes its row through the driver (the model's collection, the same object).
    const failing = jest
      .spyOn(outbox().model.collection, 'insertOne')
      .mockRejectedValueOnce(new Error('outbox insert failed'));
    try {
      // The actor must be an admin (checked inside the change's transaction).
      const admin = await t.auth.stores.users.findByEmail(ADMIN.email);
      await expect(t.auth.accounts.setRole(admin!.id, user.id, 'seller')).rejects.toThrow(
        'outbox insert failed',
      );
    } finally {
      failing.mockRestore();
    }
    expect((await t.auth.stores.users.findById(user.id))?.role).toBe('customer');
  });
});
