import { randomBytes } from 'node:crypto';
import Joi from 'joi';
import request from 'supertest';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { bearer, FlakyBus, removeBusNamespace, testServiceEnv } from '@ecom/test-support';
import { eventually } from '@ecom/test-support';
import {
  createEvent,
  createEventBus,
  InMemoryEventBus,
  subscribeTracked,
  type EventBus,
  type EventBusConfig,
} from '../src/bus';
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

type Running = Awaited<ReturnType<ReturnType<typeof stockService>['start']>>;

/** Runs the stock service on the bus `open` gives for the describe block around the call. */
function useStockService(
  open: () => EventBus,
  store: { up: boolean; handled: string[] } = { up: false, handled: [] },
  cleanUp?: () => Promise<void>,
): { bus: EventBus; running: Running } {
  const svc = {} as { bus: EventBus; running: Running };
  beforeAll(async () => {
    svc.bus = open();
    svc.running = await stockService(store).start({
      config: loadConfig(schema, testServiceEnv),
      bus: svc.bus,
      logger,
    });
  });
  afterAll(async () => {
    await svc.running?.stop();
    await svc.bus?.close();
    await cleanUp?.();
  });
  return svc;
}

describe('dead letters through the service kit', () => {
  const store = { up: false, handled: [] as string[] };
  const bus = new InMemoryEventBus({ logger, retry: { maxAttempts: 2, baseDelayMs: 5 } });
  const service = useStockService(() => bus, store);
  const admin = { id: 'a1', role: 'admin' as const };
  const customer = { id: 'c1', role: 'customer' as const };

  it('counts, lists and replays the dead letters of the service, for an admin only', async () => {
    const deleted = createEvent('product', 'product.deleted', { productId: 'p1' });
    const userDeleted = createEvent('auth', 'user.deleted', { userId: 'u1' });
    await bus.publish(deleted);
    await bus.publish(userDeleted);
    await eventually(() => bus.deadLetters.length === 2, { what: 'two dead letters' });

    const metrics = await request(service.running.app).get('/metrics');
    expect(metrics.text).toMatch(
      /events_dead_lettered_total\{group="stock",event_type="product.deleted",service="stock"\} 1/,
    );

    expect((await request(service.running.app).get('/admin/dead-letters')).status).toBe(401);
    const forbidden = await request(service.running.app)
      .get('/admin/dead-letters')
      .set('Authorization', bearer(customer));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBeDefined();

    const list = await request(service.running.app)
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
    const ofType = await request(service.running.app)
      .get('/admin/dead-letters?eventType=user.deleted')
      .set('Authorization', bearer(admin));
    expect(ofType.body.items.map((d: { event: { eventId: string } }) => d.event.eventId)).toEqual([
      userDeleted.eventId,
    ]);

    const bad = await request(service.running.app)
      .post('/admin/dead-letters/replay')
      .set('Authorization', bearer(admin))
      .send({ ids: [] });
    expect(bad.status).toBe(400);

    store.up = true;
    const replay = await request(service.running.app)
      .post('/admin/dead-letters/replay')
      .set('Authorization', bearer(admin))
      .send({ eventType: 'user.deleted' });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ replayed: 1, skipped: 0 });
    await eventually(() => store.handled.length === 1, { what: 'the replay handled' });
    expect(store.handled).toEqual([userDeleted.eventId]);

    const rest = await request(service.running.app)
      .post('/admin/dead-letters/replay')
      .set('Authorization', bearer(admin))
      .send({});
    expect(rest.body).toEqual({ replayed: 1, skipped: 0 });
    await eventually(() => store.handled.length === 2, { what: 'the rest handled' });
    const empty = await request(service.running.app)
      .get('/admin/dead-letters')
      .set('Authorization', bearer(admin));
    expect(empty.body.total).toBe(0);
  });
});

describe('the admin API document', () => {
  const bus = new InMemoryEventBus({ logger });
  const service = useStockService(() => bus);

  it('describes every dead-letter operation, admin-only, with its 400, 403 and 404 answers', async () => {
    const res = await request(service.running.app).get('/admin/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = res.body.paths as Record<string, Record<string, Record<string, unknown>>>;
    const operations = Object.entries(paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
      'delete /admin/dead-letters/{id}',
      'get /admin/dead-letters',
      'get /admin/dead-letters/{id}',
      'post /admin/dead-letters/discard',
      'post /admin/dead-letters/replay',
      'post /admin/dead-letters/{id}/replay',
    ]);
    for (const { op } of operations) {
      expect(op['x-roles']).toEqual(['admin']);
      expect(Object.keys(op.responses as object)).toEqual(
        expect.arrayContaining(['400', '401', '403']),
      );
    }
    for (const { path, op } of operations) {
      if (path.includes('{id}') || path.endsWith('discard') || path.endsWith('replay'))
        expect(Object.keys(op.responses as object)).toContain('404');
    }
    const discard = paths['/admin/dead-letters/discard']!.post!;
    expect(JSON.stringify(discard.requestBody)).toContain('"eventType"');
  });
});

describe('dead letters while the broker is away', () => {
  const bus = new FlakyBus(new InMemoryEventBus({ logger, retry: { maxAttempts: 1 } }));
  const service = useStockService(() => bus);
  const admin = { id: 'a1', role: 'admin' as const };

  it('answers 503 DEPENDENCY_UNAVAILABLE, in the common error shape, and keeps the letters', async () => {
    await bus.publish(createEvent('auth', 'user.deleted', { userId: 'u9' }));
    await eventually(() => bus.inner.deadLetters.length === 1, { what: 'a dead letter' });
    bus.down = true;
    for (const res of [
      await request(service.running.app)
        .get('/admin/dead-letters')
        .set('Authorization', bearer(admin)),
      await request(service.running.app)
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
    const list = await request(service.running.app)
      .get('/admin/dead-letters')
      .set('Authorization', bearer(admin));
    expect(list.body.total).toBe(1);
  });
});

/** Every adapter behind the same admin API: memory in-process, Redis and RabbitMQ from the environment. */
const adapters: [
  name: string,
  open: (() => EventBus) | [server: 'redis' | 'amqp', kind: 'redis' | 'rabbitmq', variable: string],
][] = [
  ['memory', () => new InMemoryEventBus({ logger, retry: { maxAttempts: 2, baseDelayMs: 5 } })],
  ['Redis Streams', ['redis', 'redis', 'REDIS_URL']],
  ['RabbitMQ', ['amqp', 'rabbitmq', 'AMQP_URL']],
];

describe.each(adapters)('dead-letter admin API on %s', (name, open) => {
  const body = (url?: string) => {
    const prefix = `dl-api-${randomBytes(4).toString('hex')}`;
    const store = { up: false, handled: [] as string[] };
    const admin = { id: 'a1', role: 'admin' as const };
    const customer = { id: 'c1', role: 'customer' as const };
    const service = useStockService(
      () =>
        typeof open === 'function'
          ? open()
          : createEventBus({ EVENT_BUS: open[1], [open[2]]: url } as EventBusConfig, {
              service: 'stock',
              logger,
              prefix,
              retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
            }),
      store,
      async () => {
        if (typeof open !== 'function' && url) await removeBusNamespace(open[1], url, prefix);
      },
    );

    it('reads, discards and replays one by id or several by type, for an admin only, in the common shapes', async () => {
      const [kept, dropped] = [1, 2].map((n) =>
        createEvent('product', 'product.deleted', { productId: `p${n}` }),
      );
      const userGone = createEvent('auth', 'user.deleted', { userId: 'u1' });
      for (const event of [kept!, dropped!, userGone]) await service.bus.publish(event);
      const dead = await eventually(
        async () => {
          const found = await service.bus.listDeadLetters('stock');
          return found.length === 3 ? found : undefined;
        },
        { what: `three dead letters on ${name}` },
      );
      const idOf = (eventId: string) => dead.find((d) => d.event?.eventId === eventId)!.id;
      const as = (user: typeof admin | typeof customer) => ({
        get: (path: string) =>
          request(service.running.app).get(path).set('Authorization', bearer(user)),
        post: (path: string, payload: object = {}) =>
          request(service.running.app).post(path).set('Authorization', bearer(user)).send(payload),
        delete: (path: string) =>
          request(service.running.app).delete(path).set('Authorization', bearer(user)),
      });

      for (const res of [
        await as(customer).post('/admin/dead-letters/discard', { eventType: 'user.deleted' }),
        await as(customer).delete(`/admin/dead-letters/${idOf(dropped!.eventId)}`),
        await as(customer).post(`/admin/dead-letters/${idOf(kept!.eventId)}/replay`),
        await as(customer).get(`/admin/dead-letters/${idOf(kept!.eventId)}`),
      ]) {
        expect(res.status).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.any(String) });
      }
      // Discarding everything needs a selection; ids must be a non-empty list of strings.
      for (const payload of [
        {},
        { ids: [] },
        { ids: 'x' },
        { eventType: 7 },
        { ids: ['a'], bogus: 1 },
      ]) {
        const res = await as(admin).post('/admin/dead-letters/discard', payload);
        expect(res.status).toBe(400);
        expect(res.body.error).toMatchObject({
          code: 'VALIDATION_ERROR',
          message: expect.any(String),
        });
      }

      const one = await as(admin).get(`/admin/dead-letters/${idOf(kept!.eventId)}`);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({
        group: 'stock',
        reason: 'store unreachable',
        attempts: 2,
        event: { eventId: kept!.eventId, eventType: 'product.deleted' },
      });
      const unknown = await as(admin).get('/admin/dead-letters/no-such-letter');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NOT_FOUND');

      const droppedId = idOf(dropped!.eventId);
      expect((await as(admin).delete(`/admin/dead-letters/${droppedId}`)).status).toBe(204);
      // Spent: the same id again, discarded or replayed, does nothing.
      expect((await as(admin).delete(`/admin/dead-letters/${droppedId}`)).status).toBe(404);
      const spent = await as(admin).post(`/admin/dead-letters/${droppedId}/replay`);
      expect(spent.status).toBe(404);
      expect(spent.body.error).toMatchObject({ code: 'NOT_FOUND' });
      expect(
        (await as(admin).post('/admin/dead-letters/replay', { ids: [droppedId] })).status,
      ).toBe(404);

      store.up = true;
      const replayed = await as(admin).post(`/admin/dead-letters/${idOf(kept!.eventId)}/replay`);
      expect(replayed.status).toBe(200);
      expect(replayed.body).toEqual({ replayed: 1, skipped: 0 });
      await eventually(() => store.handled.length === 1, { what: 'the replay handled' });
      expect(
        (await as(admin).post(`/admin/dead-letters/${idOf(kept!.eventId)}/replay`)).status,
      ).toBe(404);

      const byType = await as(admin).post('/admin/dead-letters/discard', {
        eventType: 'user.deleted',
      });
      expect(byType.status).toBe(200);
      expect(byType.body).toEqual({ discarded: 1 });
      const partly = await as(admin).post('/admin/dead-letters/discard', {
        ids: ['gone', idOf(userGone.eventId)],
      });
      expect(partly.status).toBe(404);

      expect((await as(admin).get('/admin/dead-letters')).body.total).toBe(0);
      // Published after the rest: once handled, anything discarded would have shown up first.
      const marker = createEvent('product', 'product.deleted', { productId: 'p9' });
      await service.bus.publish(marker);
      await eventually(() => store.handled.includes(marker.eventId), { what: 'the marker' });
      expect(store.handled).toEqual([kept!.eventId, marker.eventId]);
    });
  };
  if (typeof open === 'function') body();
  else describeIfServer(open[0], `${name} from the environment`, (url) => body(url));
});
