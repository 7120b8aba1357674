import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { describeIfServer } from '@ecom/infrastructure/testing';
import { RabbitMqEventBus } from '@ecom/common/bus/rabbitmq';
import { createEvent, subscribeTracked } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { eventually } from '@ecom/test-support';
import * as frameWrites from '../../src/bus/rabbitmq/coalesced-writes';
import { busContract, letters } from './contract';

const run = promisify(execFile);
const logger = createLogger('bus-contract');

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', args, { timeout: 30_000 });
  return stdout;
}

/** Closes, from the broker, every connection whose client-provided name is `name` (close_connection takes its pid). */
async function closeConnectionsNamed(name: string): Promise<number> {
  const rows = (await rabbitmqctl('list_connections', 'pid', 'client_properties'))
    .split('\n')
    .filter((line) => line.includes(`{"connection_name","${name}"}`));
  for (const row of rows) {
    await rabbitmqctl(
      'close_connection',
      row.split('\t')[0],
      'contract test: connection killed by the server',
    );
  }
  return rows.length;
}

/** Deletes every queue and exchange of the test run's namespace. */
async function deleteTopology(url: string, prefix: string): Promise<void> {
  const queues = (await rabbitmqctl('list_queues', 'name'))
    .split('\n')
    .filter((n) => n.startsWith(`${prefix}.`));
  const exchanges = (await rabbitmqctl('list_exchanges', 'name'))
    .split('\n')
    .filter((n) => n.startsWith(`${prefix}.`));
  const conn = await amqp.connect(url);
  const channel = await conn.createChannel();
  for (const queue of queues) await channel.deleteQueue(queue.trim());
  for (const exchange of exchanges) await channel.deleteExchange(exchange.trim());
  await conn.close();
}

describeIfServer('amqp', 'event bus contract: RabbitMQ', (url) => {
  const prefix = `test-bus-${letters(6)}`;
  afterAll(() => deleteTopology(url, prefix));

  busContract({ durable: true }, async () => ({
    createBus: (service, retry) => new RabbitMqEventBus({ url, service, logger, retry, prefix }),
    deadLetters: (bus, group) => (bus as RabbitMqEventBus).listDeadLetters(group),
    publishRaw: (bus, raw, eventType) => (bus as RabbitMqEventBus).publishRaw(raw, eventType),
    async killConnections(service) {
      const killed = await closeConnectionsNamed(`${prefix}:${service}`);
      if (killed === 0) throw new Error(`no RabbitMQ connection named ${prefix}:${service}`);
    },
    async cleanup() {},
  }));
});

describeIfServer('amqp', 'RabbitMQ queues and dead letters', (url) => {
  const prefix = `test-rmq-${letters(6)}`;
  const buses: RabbitMqEventBus[] = [];
  const warnings: string[] = [];
  const watched = createLogger('bus-rabbitmq', 'silent');
  const warn = watched.warn.bind(watched);
  watched.warn = ((message: string, meta?: unknown) => {
    warnings.push(message);
    return warn(message, meta as Record<string, unknown>);
  }) as typeof watched.warn;
  const bus = (queueType?: 'quorum' | 'classic') => {
    const created = new RabbitMqEventBus({
      url,
      service: 'rmq',
      logger: watched,
      prefix,
      queueType,
      retry: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 80 },
    });
    buses.push(created);
    return created;
  };
  const queueTypes = async () =>
    Object.fromEntries(
      (await rabbitmqctl('list_queues', 'name', 'type', '--no-table-headers', '--quiet'))
        .split('\n')
        .filter((l) => l.startsWith(`${prefix}.`))
        .map((l) => l.trim().split(/\s+/)),
    );
  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await deleteTopology(url, prefix);
  });

  it('declares the group and dead-letter queues as quorum queues by default, the retry queues classic', async () => {
    await bus().subscribe({ group: 'quorum', eventTypes: ['q.created'], handler: async () => {} });
    const types = await queueTypes();
    expect(types).toMatchObject({
      [`${prefix}.quorum`]: 'quorum',
      [`${prefix}.quorum.dead-letter`]: 'quorum',
      [`${prefix}.quorum.retry.20`]: 'classic',
      [`${prefix}.quorum.retry.40`]: 'classic',
    });
  });

  it('warns once, over reconnects, when amqplib has a shape its frames cannot be written together in, and delivers all the same', async () => {
    const SHAPE =
      'amqplib has another shape: its frames go out one socket write each (coalesced-writes.ts)';
    const shapeless = jest.spyOn(frameWrites, 'coalesceFrameWrites').mockReturnValue(false);
    // A bus of its own (its own connection name and log), so only its connection is dropped.
    const own: string[] = [];
    const log = createLogger('bus-rabbitmq-shapeless', 'silent');
    log.warn = ((message: string) => {
      own.push(message);
      return log;
    }) as typeof log.warn;
    const consumer = new RabbitMqEventBus({ url, service: 'shapeless', logger: log, prefix });
    buses.push(consumer);
    try {
      const got: string[] = [];
      await consumer.subscribe({
        group: 'shapeless',
        eventTypes: ['shapeless.created'],
        handler: async (e) => void got.push(e.eventId),
      });
      const first = createEvent('test', 'shapeless.created', {});
      await consumer.publish(first);
      await eventually(() => got.length === 1, { what: 'delivered on the first connection' });
      // The broker drops the connection: the bus connects again, and looks at it again.
      expect(await closeConnectionsNamed(consumer.connectionName)).toBeGreaterThan(0);
      const second = createEvent('test', 'shapeless.created', {});
      await eventually(
        async () => {
          await consumer.publish(second);
          return true;
        },
        { what: 'published after the reconnect' },
      );
      await eventually(() => got.includes(second.eventId), { what: 'delivered after it' });
      expect(shapeless.mock.calls.length).toBeGreaterThanOrEqual(2);
      expect(own.filter((w) => w === SHAPE)).toHaveLength(1);
    } finally {
      shapeless.mockRestore();
    }
  });

  it('keeps a queue that exists as classic (an earlier version declared it), with a warning, and consumes from it', async () => {
    const conn = await amqp.connect(url);
    const channel = await conn.createChannel();
    await channel.assertQueue(`${prefix}.legacy`, { durable: true });
    await conn.close();
    const consumer = bus();
    const got: string[] = [];
    await consumer.subscribe({
      group: 'legacy',
      eventTypes: ['legacy.created'],
      handler: async (e) => void got.push(e.eventId),
    });
    const event = createEvent('test', 'legacy.created', {});
    await consumer.publish(event);
    await eventually(() => got.length === 1, { what: 'delivered through the classic queue' });
    expect(got).toEqual([event.eventId]);
    expect((await queueTypes())[`${prefix}.legacy`]).toBe('classic');
    expect(warnings).toContain('RabbitMQ queue exists with another type; kept as it is');
  });

  it("removes the binding of a type the group's consumers no longer take: a message it left is acknowledged, not dead-lettered", async () => {
    const bindings = async () =>
      (
        await rabbitmqctl(
          'list_bindings',
          'destination_name',
          'routing_key',
          '--no-table-headers',
          '--quiet',
        )
      )
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        // Not the default exchange's binding, by the queue's own name.
        .filter(([queue, key]) => queue === `${prefix}.upgraded` && key !== queue)
        .map(([, key]) => key)
        .sort();
    // An earlier version consumed both types; it stops with a user.deleted left in its queue.
    const earlier = new RabbitMqEventBus({ url, service: 'rmq', logger, prefix });
    await earlier.subscribe({
      group: 'upgraded',
      eventTypes: ['product.deleted', 'user.deleted'],
      handler: async () => {},
    });
    await earlier.close();
    expect(await bindings()).toEqual(['product.deleted', 'user.deleted']);
    const publisher = bus();
    const leftover = createEvent('test', 'user.deleted', { userId: 'u-left' });
    await publisher.publish(leftover);

    const outcomes: string[] = [];
    const deadLettered: string[] = [];
    const consumer = bus();
    const handle = await subscribeTracked({
      bus: consumer,
      group: 'upgraded',
      logger,
      eventTypes: ['product.deleted'],
      observer: {
        handled: (_group, type, outcome) => void outcomes.push(`${type} ${outcome}`),
        deadLettered: (d) => void deadLettered.push(d.reason),
      },
      run: async () => 'handled',
    });
    try {
      expect(await bindings()).toEqual(['product.deleted']);
      await publisher.publish(createEvent('test', 'user.deleted', { userId: 'u-new' }));
      await publisher.publish(createEvent('test', 'product.deleted', { productId: 'p-new' }));
      await eventually(() => outcomes.includes('product.deleted handled'), {
        what: 'the type still consumed',
      });
      // The message left before the upgrade, and only it: the new one had no route.
      expect(outcomes).toEqual(['user.deleted skipped', 'product.deleted handled']);
      expect(deadLettered).toEqual([]);
      expect(await consumer.listDeadLetters('upgraded')).toEqual([]);
    } finally {
      await handle.stop();
    }
  });

  it('dead-letters with the event type as x-original-routing-key after retry hops, and replays it to the group', async () => {
    const consumer = bus();
    let failing = true;
    const handled: string[] = [];
    await consumer.subscribe({
      group: 'hops',
      eventTypes: ['hops.created'],
      handler: async (e) => {
        if (failing) throw new Error('down');
        handled.push(e.eventId);
      },
    });
    const event = createEvent('test', 'hops.created', {});
    await consumer.publish(event);
    const [letter] = await eventually(
      async () => {
        const l = await consumer.listDeadLetters('hops');
        return l.length ? l : undefined;
      },
      { what: 'dead letter' },
    );
    expect(letter).toMatchObject({ attempts: 3, reason: 'down' });
    // The raw message: the header a replay tool routes by names the event type, not the queue.
    const conn = await amqp.connect(url);
    const channel = await conn.createChannel();
    const raw = await channel.get(`${prefix}.hops.dead-letter`, { noAck: false });
    expect(raw && raw.properties.headers?.['x-original-routing-key']).toBe('hops.created');
    await conn.close();
    failing = false;
    expect(await consumer.replayDeadLetters('hops')).toEqual({ replayed: 1, skipped: 0 });
    await eventually(() => handled.length === 1, { what: 'replayed' });
    expect(await consumer.listDeadLetters('hops')).toEqual([]);
  });
});
