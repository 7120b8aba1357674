import type { EventEnvelope } from './envelope';

export interface HandlerContext {
  /** 1 on the first delivery to this consumer group. */
  attempt: number;
}

export type EventHandler = (event: EventEnvelope, context: HandlerContext) => Promise<void>;

export interface SubscribeOptions {
  /** The consuming service (one queue / consumer group per group name). */
  group: string;
  eventTypes: string[];
  handler: EventHandler;
  /** Told of every message this subscription dead-letters (metrics, alerts). */
  onDeadLetter?: (deadLetter: DeadLetter) => void;
}

/**
 * Thrown by a handler for an event that can never be handled (a payload that breaks its
 * contract, an event type the consumer does not know): the bus dead-letters it at once, with
 * this message as the reason, instead of retrying what cannot succeed.
 */
export class PermanentEventError extends Error {
  readonly permanent = true;
  constructor(message: string) {
    super(message);
    this.name = 'PermanentEventError';
  }
}

/** True for a failure no retry can fix (duck-typed: the error may come from another copy of this module). */
export function isPermanentFailure(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null && (err as { permanent?: unknown }).permanent === true
  );
}

export interface RetryPolicy {
  /** Deliveries in all, including the first, before the message is dead-lettered. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 10000,
};

/** Increasing delay before attempt `attempt + 1`. */
export function retryDelayMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

export interface DeadLetter {
  group: string;
  reason: string;
  attempts: number;
  /** The raw message when it could not be parsed as an envelope. */
  event?: EventEnvelope;
  raw?: string;
  deadAt: string;
}

/**
 * At-least-once event delivery. A handler that throws is retried with increasing delay,
 * then dead-lettered with its reason; an invalid envelope is dead-lettered at once.
 * Handlers must therefore be idempotent (see the idempotent-consumer helpers).
 */
export interface EventBus {
  publish(event: EventEnvelope): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<void>;
  /** Throws when the bus cannot publish or consume (for /health/ready). */
  health(): Promise<void>;
  /** Stops consuming, waits for in-flight handlers, closes connections. */
  close(): Promise<void>;
}
