import type { Logger } from '../logging/logger';
import { InMemoryEventBus } from './memory-bus';
import type { EventBus, RetryPolicy } from './types';

// The broker adapters are loaded only when chosen, so a service on one bus never loads the
// other's client library (ioredis, amqplib).
const loadRedis = () => require('./redis') as typeof import('./redis');
const loadRabbitMq = () => require('./rabbitmq') as typeof import('./rabbitmq');

export interface EventBusConfig {
  EVENT_BUS: 'memory' | 'redis' | 'rabbitmq';
  REDIS_URL?: string;
  AMQP_URL?: string;
}

export interface EventBusFactoryOptions {
  /** The service name: names the connections (visible on the server) and consumers. */
  service: string;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  /** Namespace of streams / exchange / queues (default 'ecom'); tests use a unique one. */
  prefix?: string;
}

/** The bus chosen by configuration (EVENT_BUS), for a service's main.ts. */
export function createEventBus(config: EventBusConfig, options: EventBusFactoryOptions): EventBus {
  switch (config.EVENT_BUS) {
    case 'memory':
      return new InMemoryEventBus({ logger: options.logger, retry: options.retry });
    case 'redis':
      if (!config.REDIS_URL) throw new Error('EVENT_BUS=redis needs REDIS_URL');
      return new (loadRedis().RedisStreamsEventBus)({
        url: config.REDIS_URL,
        service: options.service,
        logger: options.logger,
        retry: options.retry,
        prefix: options.prefix,
      });
    case 'rabbitmq':
      if (!config.AMQP_URL) throw new Error('EVENT_BUS=rabbitmq needs AMQP_URL');
      return new (loadRabbitMq().RabbitMqEventBus)({
        url: config.AMQP_URL,
        service: options.service,
        logger: options.logger,
        retry: options.retry,
        prefix: options.prefix,
      });
    default:
      throw new Error(`unknown EVENT_BUS: ${String((config as { EVENT_BUS: unknown }).EVENT_BUS)}`);
  }
}
