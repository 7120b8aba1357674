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
  EVENT_RETRY_ATTEMPTS?: number;
  EVENT_RETRY_BASE_DELAY_MS?: number;
  EVENT_RETRY_MAX_DELAY_MS?: number;
  RABBITMQ_QUEUE_TYPE?: 'quorum' | 'classic';
  EVENT_BUS_PREFIX?: string;
  /** The in-memory bus's replay window (EventBus.replayWindowMs); default from its retry policy. */
  OUTBOX_REPLAY_WINDOW_MS?: number;
}

/** The retry policy the configuration sets (unset variables keep the defaults). */
export function retryPolicyFromConfig(config: EventBusConfig): Partial<RetryPolicy> {
  const policy: Partial<RetryPolicy> = {};
  if (config.EVENT_RETRY_ATTEMPTS !== undefined) policy.maxAttempts = config.EVENT_RETRY_ATTEMPTS;
  if (config.EVENT_RETRY_BASE_DELAY_MS !== undefined)
    policy.baseDelayMs = config.EVENT_RETRY_BASE_DELAY_MS;
  if (config.EVENT_RETRY_MAX_DELAY_MS !== undefined)
    policy.maxDelayMs = config.EVENT_RETRY_MAX_DELAY_MS;
  return policy;
}

export interface EventBusFactoryOptions {
  /** The service name: names the connections (visible on the server) and consumers. */
  service: string;
  logger: Logger;
  /** Overrides the configuration's EVENT_RETRY_* (tests). */
  retry?: Partial<RetryPolicy>;
  /** Namespace of streams / exchange / queues (default EVENT_BUS_PREFIX, else 'ecom'); tests use a unique one. */
  prefix?: string;
}

/** The bus chosen by configuration (EVENT_BUS), for a service's main.ts. */
export function createEventBus(config: EventBusConfig, options: EventBusFactoryOptions): EventBus {
  const retry = { ...retryPolicyFromConfig(config), ...options.retry };
  switch (config.EVENT_BUS) {
    case 'memory':
      return new InMemoryEventBus({
        logger: options.logger,
        retry,
        replayWindowMs: config.OUTBOX_REPLAY_WINDOW_MS,
      });
    case 'redis':
      if (!config.REDIS_URL) throw new Error('EVENT_BUS=redis needs REDIS_URL');
      return new (loadRedis().RedisStreamsEventBus)({
        url: config.REDIS_URL,
        service: options.service,
        logger: options.logger,
        retry,
        prefix: options.prefix ?? config.EVENT_BUS_PREFIX,
      });
    case 'rabbitmq':
      if (!config.AMQP_URL) throw new Error('EVENT_BUS=rabbitmq needs AMQP_URL');
      return new (loadRabbitMq().RabbitMqEventBus)({
        url: config.AMQP_URL,
        service: options.service,
        logger: options.logger,
        retry,
        prefix: options.prefix ?? config.EVENT_BUS_PREFIX,
        queueType: config.RABBITMQ_QUEUE_TYPE,
      });
    default:
      throw new Error(`unknown EVENT_BUS: ${String((config as { EVENT_BUS: unknown }).EVENT_BUS)}`);
  }
}
