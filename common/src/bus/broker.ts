import type { Logger } from '../logging/logger';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './types';

/** What both broker adapters (Redis Streams, RabbitMQ) are configured with. */
export interface BrokerBusOptions {
  url: string;
  /** Names this instance's connections on the server, and its consumers. */
  service: string;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  /** Namespace of everything the adapter creates on the server (default 'ecom'). */
  prefix?: string;
  /** publish() waits this long for the broker, across reconnections (default 10 s). */
  publishTimeoutMs?: number;
  /** close() waits this long for in-flight handlers (default 10 s). */
  closeTimeoutMs?: number;
}

/** The shared settings of a broker adapter, defaults applied. */
export function brokerSettings(options: BrokerBusOptions) {
  return {
    prefix: options.prefix ?? 'ecom',
    policy: { ...DEFAULT_RETRY_POLICY, ...options.retry } as RetryPolicy,
    publishTimeoutMs: options.publishTimeoutMs ?? 10_000,
    closeTimeoutMs: options.closeTimeoutMs ?? 10_000,
  };
}
