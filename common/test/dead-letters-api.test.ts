import Joi from 'joi';
import request from 'supertest';
import { bearer, FlakyBus, testServiceEnv } from '@ecom/test-support';
import { eventually } from '@ecom/test-support';
import { createEvent, InMemoryEventBus, subscribeTracked } from '../src/bus';
import { baseConfigKeys, busConfigKeys, jwtVerifyConfigKeys, loadConfig } from '../src/config';
import { createLogger } from '../src/logging';
import { defineService, type ServiceBaseConfig } from '../src/service';

const logger = createLogger('test', 'silent');
const schema = Joi.object<ServiceBaseConfig>({
  ...baseConfigKeys,
  ...busConfigKeys,
  ...jwtVerifyConfigKeys,
  PORT: Joi.number().port().default(0),
});

/** A service consuming product.deleted into a store that is down while `store.up` is false. */
function stockService(store: { up: boolean; handled: string[] }) {
  return defineService({
    name: 'stock',
    configSchema: schema,
    async build({ bus }) {
      return {
        consumers: [
          (observer) =>
            subscribeTracked({
              bus,
              group: 'stock',
              eventTypes: ['product.deleted', 'user.deleted'],
              logger,
              observer,
              run: async (event) => {
                if (!store.up) throw new Error('store unreachable');
                store.handled.push(event.eventId);
                return 'handled';
              },
            }),
        ],
        exports: {},
      };
    },
  });
}

describe('dead letters through the service kit', () => {
  const store = { up: false, handled: [] as string[] };
  const bus = new InMemoryEventBus({ logger, retry: { maxAttempts: 2, baseDelayMs: 5 } });
  let running: Awaited<ReturnType<ReturnType<typeof stockService>['start']>>;
  const admin = { id: 'a1', role: 'admin' as const };
  const customer = { id: 'c1', role: 'customer' as const };

  beforeAll(async () => {
    running = await stockService(store).start({
      config: loadConfig(schema, testServiceEnv),
      bus,
      logger,
    });
  });
  afterAll(async () => {
    await running.stop();
    await bus.close();
  });

  it('counts, lists and replays the dead letters of the service, for an admin only', async () => {
    const deleted = createEvent('product', 'product.deleted', { productId: 'p1' });
    const userDeleted = createEvent('auth', 'user.deleted', { userId: 'u1' });
    await bus.publish(deleted);
    await bus.publish(userDeleted);
    await eventually(() => bus.deadLetters.length === 2, { what: 'two dead letters' });

    const metrics = await request(running.app).get('/metrics');
    expect(metrics.text).toMatch(
      /events_dead_lettered_total\{group="stock",event_type="product.deleted",service="stock"\} 1/,
    );

    expect((await request(running.app).get('/admin/dead-letters')).status).toBe(401);
    const forbidden = await request(running.app)
      .get('/admin/dead-letters')
      .set('Authorization', bearer(customer));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBeDefined();

    const list = await request(running.app)
      .get('/admin/dead-letters?limit=1')
      .set('Authorization', bearer(admin));
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ page: 1, limit: 1, total: 2, totalPages: 2 });
    // Oldest first: whichever ran out of retries first (the delays are jittered).
    expect(list.body.items[0]).toMatchObject({
      id: bus.deadLetters[0].id,
      group: 'stock',
      reason: 'store unreachable',
      attempts: 2,
      event: { eventId: bus.deadLetters[0].event?.eventId },
    });
    const ofType = await request(running.app)
      .get('/admin/dead-letters?eventType=user.deleted')
      .set('Authorization', bearer(admin));
    expect(ofType.body.items.map((d: { event: { eventId: string } }) => d.event.eventId)).toEqual([
      userDeleted.eventId,
    ]);

    const bad = await request(running.app)
      .post('/admin/dead-letters/replay')
      .set('Authorization', bearer(admin))
      .send({ ids: [] });
    expect(bad.status).toBe(400);

    store.up = true;
    const replay = await request(running.app)
      .post('/admin/dead-letters/replay')
      .set('Authorization', bearer(admin))
      .send({ eventType: 'user.deleted' });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ replayed: 1, skipped: 0 });
    await eventually(() => store.handled.length === 1, { what: 'the replay handled' });
    expect(store.handled).toEqual([userDeleted.eventId]);

    const rest = await request(running.app)
      .post('/admin/dead-letters/replay')
      .set('Authorization', bearer(admin))
      .send({});
    expect(rest.body).toEqual({ replayed: 1, skipped: 0 });
    await eventually(() => store.handled.length === 2, { what: 'the rest handled' });
    const empty = await request(running.app)
      .get('/admin/dead-letters')
      .set('Authorization', bearer(admin));
    expect(empty.body.total).toBe(0);
  });
});

describe('dead letters while the broker is away', () => {
  const bus = new FlakyBus(new InMemoryEventBus({ logger, retry: { maxAttempts: 1 } }));
  let running: Awaited<ReturnType<ReturnType<typeof stockService>['start']>>;
  const admin = { id: 'a1', role: 'admin' as const };

  beforeAll(async () => {
    running = await stockService({ up: false, handled: [] }).start({
      config: loadConfig(schema, testServiceEnv),
      bus,
      logger,
    });
  });
  afterAll(async () => {
    await running.stop();
    await bus.close();
  });

  it('answers 503 DEPENDENCY_UNAVAILABLE, in the common error shape, and keeps the letters', async () => {
    await bus.publish(createEvent('auth', 'user.deleted', { userId: 'u9' }));
    await eventually(() => bus.inner.deadLetters.length === 1, { what: 'a dead letter' });
    bus.down = true;
    for (const res of [
      await request(running.app).get('/admin/dead-letters').set('Authorization', bearer(admin)),
      await request(running.app)
        .post('/admin/dead-letters/replay')
        .set('Authorization', bearer(admin))
        .send({}),
    ]) {
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({
        code: 'DEPENDENCY_UNAVAILABLE',
        details: { dependency: 'event bus' },
      });
      expect(JSON.stringify(res.body)).not.toMatch(/broker unreachable|at .*\.ts/);
    }
    bus.down = false;
    const list = await request(running.app)
      .get('/admin/dead-letters')
      .set('Authorization', bearer(admin));
    expect(list.body.total).toBe(1);
  });
});
