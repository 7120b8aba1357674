import { describeIfServer } from '@ecom/infrastructure/testing';
import {
  createEventBus,
  DEFAULT_RETRY_POLICY,
  InMemoryEventBus,
  retryBudgetMs,
  type EventBus,
  type EventBusConfig,
} from '@ecom/common/bus';
import { RabbitMqEventBus } from '@ecom/common/bus/rabbitmq';
import { RedisStreamsEventBus } from '@ecom/common/bus/redis';
import { createLogger } from '@ecom/common/logging';
import { removeBusNamespace } from '@ecom/test-support';
import amqp from 'amqplib';

const logger = createLogger('bus-factory-test');

describe('createEventBus', () => {
  it('builds the in-memory bus for EVENT_BUS=memory', async () => {
    const bus = createEventBus({ EVENT_BUS: 'memory' }, { service: 'test-service', logger });
    expect(bus).toBeInstanceOf(InMemoryEventBus);
    await bus.close();
  });

  it('gives the in-memory bus a replay window: OUTBOX_REPLAY_WINDOW_MS, else its retry budget and five minutes', async () => {
    const fallback = createEventBus(
      { EVENT_BUS: 'memory', EVENT_RETRY_ATTEMPTS: 5, EVENT_RETRY_BASE_DELAY_MS: 1000 },
      { service: 'test-service', logger },
    );
    // Ceilings 1 + 2 + 4 + 8 s before the fifth delivery.
    expect(fallback.replayWindowMs).toBe(15_000 + 5 * 60_000);
    expect(new InMemoryEventBus().replayWindowMs).toBe(
      retryBudgetMs(DEFAULT_RETRY_POLICY) + 5 * 60_000,
    );
    const set = createEventBus(
      { EVENT_BUS: 'memory', OUTBOX_REPLAY_WINDOW_MS: 120_000 },
      { service: 'test-service', logger },
    );
    expect(set.replayWindowMs).toBe(120_000);
    await fallback.close();
    await set.close();
  });

  it('refuses a real adapter without its URL, naming the missing variable', () => {
    expect(() => createEventBus({ EVENT_BUS: 'redis' }, { service: 's', logger })).toThrow(
      'REDIS_URL',
    );
    expect(() => createEventBus({ EVENT_BUS: 'rabbitmq' }, { service: 's', logger })).toThrow(
      'AMQP_URL',
    );
    expect(() =>
      createEventBus({ EVENT_BUS: 'kafka' as 'memory' }, { service: 's', logger }),
    ).toThrow('unknown EVENT_BUS: kafka');
  });
});

/** What createEventBus builds from `config`: an instance of `adapter`, connected. */
async function connectedBus(
  config: EventBusConfig,
  adapter: abstract new (...args: never[]) => EventBus,
) {
  const bus = createEventBus(config, { service: 'test-service', logger });
  expect(bus).toBeInstanceOf(adapter);
  await expect(bus.health()).resolves.toBeUndefined();
  return bus;
}

describeIfServer('redis', 'createEventBus with EVENT_BUS=redis', (url) => {
  it('builds a connected Redis Streams bus', async () => {
    const bus = await connectedBus({ EVENT_BUS: 'redis', REDIS_URL: url }, RedisStreamsEventBus);
    await bus.close();
  });
});

describeIfServer('amqp', 'createEventBus with EVENT_BUS=rabbitmq', (url) => {
  it('builds a connected RabbitMQ bus', async () => {
    const bus = await connectedBus({ EVENT_BUS: 'rabbitmq', AMQP_URL: url }, RabbitMqEventBus);
    await bus.close();
    await expect(bus.health()).rejects.toThrow('closed');
  });

  it('names its exchange and queues after EVENT_BUS_PREFIX, so platforms can share a broker', async () => {
    const prefix = `factory${Date.now().toString(36)}`;
    const bus = await connectedBus(
      { EVENT_BUS: 'rabbitmq', AMQP_URL: url, EVENT_BUS_PREFIX: prefix },
      RabbitMqEventBus,
    );
    try {
      await bus.subscribe({ group: 'widgets', eventTypes: ['x.created'], handler: async () => {} });
      const conn = await amqp.connect(url);
      const channel = await conn.createChannel();
      // Passive declares: they throw (404) unless the adapter created them under the prefix.
      await expect(channel.checkExchange(`${prefix}.events`)).resolves.toBeDefined();
      await expect(channel.checkQueue(`${prefix}.widgets`)).resolves.toBeDefined();
      await conn.close();
    } finally {
      await bus.close();
      await removeBusNamespace('rabbitmq', url, prefix);
    }
  });
});
