import { describeIfServer } from '@ecom/infrastructure/testing';
import { createEventBus, InMemoryEventBus } from '@ecom/common/bus';
import { RabbitMqEventBus } from '@ecom/common/bus/rabbitmq';
import { RedisStreamsEventBus } from '@ecom/common/bus/redis';
import { createLogger } from '@ecom/common/logging';

const logger = createLogger('bus-factory-test');

describe('createEventBus', () => {
  it('builds the in-memory bus for EVENT_BUS=memory', async () => {
    const bus = createEventBus({ EVENT_BUS: 'memory' }, { service: 'test-service', logger });
    expect(bus).toBeInstanceOf(InMemoryEventBus);
    await bus.close();
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

describeIfServer('redis', 'createEventBus with EVENT_BUS=redis', (url) => {
  it('builds a connected Redis Streams bus', async () => {
    const bus = createEventBus(
      { EVENT_BUS: 'redis', REDIS_URL: url },
      { service: 'test-service', logger },
    );
    expect(bus).toBeInstanceOf(RedisStreamsEventBus);
    await expect(bus.health()).resolves.toBeUndefined();
    await bus.close();
  });
});

describeIfServer('amqp', 'createEventBus with EVENT_BUS=rabbitmq', (url) => {
  it('builds a connected RabbitMQ bus', async () => {
    const bus = createEventBus(
      { EVENT_BUS: 'rabbitmq', AMQP_URL: url },
      { service: 'test-service', logger },
    );
    expect(bus).toBeInstanceOf(RabbitMqEventBus);
    await expect(bus.health()).resolves.toBeUndefined();
    await bus.close();
    await expect(bus.health()).rejects.toThrow('closed');
  });
});
