import { createEvent, type EventBus } from '@ecom/common/bus';
import { RabbitMqEventBus } from '@ecom/common/bus/rabbitmq';
import { RedisStreamsEventBus } from '@ecom/common/bus/redis';
import { createLogger } from '@ecom/common/logging';

const logger = createLogger('bus-unreachable-test');
// Nothing listens on port 1: every connection attempt is refused.
const adapters: [string, () => EventBus][] = [
  [
    'Redis Streams',
    () =>
      new RedisStreamsEventBus({
        url: 'redis://127.0.0.1:1',
        service: 'down',
        logger,
        publishTimeoutMs: 300,
      }),
  ],
  [
    'RabbitMQ',
    () =>
      new RabbitMqEventBus({
        url: 'amqp://127.0.0.1:1',
        service: 'down',
        logger,
        publishTimeoutMs: 300,
      }),
  ],
];

describe.each(adapters)('%s with the server unreachable', (_name, make) => {
  it('fails publish and subscribe after the timeout, reports unhealthy, and still closes promptly', async () => {
    const bus = make();
    const event = createEvent('down', 'order.created', {});
    await expect(bus.publish(event)).rejects.toThrow(/timed out|unreachable/);
    await expect(
      bus.subscribe({ group: 'g', eventTypes: ['order.created'], handler: async () => undefined }),
    ).rejects.toThrow(/timed out|unreachable/);
    await expect(bus.health()).rejects.toThrow();
    const started = Date.now();
    await bus.close();
    expect(Date.now() - started).toBeLessThan(8000);
    await expect(bus.publish(event)).rejects.toThrow('closed');
  }, 20_000);
});
