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
  /**
   * Types this group does not consume whose route to it is removed if one is left (a type an
   * earlier version consumed): a broker that keeps routes (RabbitMQ's bindings) unbinds them,
   * so they stop reaching the group. The consumer kits pass every contract type they have no
   * handler for; a group's handlers are then declared in that one subscription.
   */
  unroute?: string[];
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

/**
 * A retry budget measured in minutes: a store or broker that is down for a while is a delay,
 * not a dead letter. 30 deliveries, the delay doubling from 250 ms to a 30 s cap: about 11
 * minutes between the first delivery and the dead letter (retryBudgetMs).
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 30,
  baseDelayMs: 250,
  maxDelayMs: 30_000,
};

/**
 * Deliveries one consumer process handles at once per subscription, on every bus (RabbitMQ's
 * prefetch, the Redis adapter's and the in-memory bus's concurrency): held deliveries of a
 * consumer whose store is down fill it, and consumption pauses (docs/reliability.md).
 */
export const DEFAULT_CONSUMER_CONCURRENCY = 16;

/** The longest delay before attempt `attempt + 1`: doubling from baseDelayMs, capped at maxDelayMs. */
export function backoffCeilingMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * The delay before attempt `attempt + 1`: half the ceiling plus a random share of the other
 * half ("equal jitter"), so consumers that failed together (a store that went down under all
 * of them) do not all come back at the same instant.
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const ceiling = backoffCeilingMs(policy, attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The longest time a message can spend being retried before it is dead-lettered. */
export function retryBudgetMs(policy: RetryPolicy): number {
  let total = 0;
  for (let attempt = 1; attempt < policy.maxAttempts; attempt++)
    total += backoffCeilingMs(policy, attempt);
  return total;
}

export interface DeadLetter {
  /** Names the dead letter for a replay (adapter-specific: a stream entry id, a uuid). */
  id: string;
  group: string;
  reason: string;
  attempts: number;
  /** The raw message when it could not be parsed as an envelope. */
  event?: EventEnvelope;
  raw?: string;
  /** When the last delivery failed and the message was dead-lettered. */
  deadAt: string;
  /**
   * When its first delivery to this group failed (deadAt when it failed once); absent when
   * unknown (Redis: retried by a consumer that took it over from one that died).
   */
  firstFailedAt?: string;
}

/** Which dead letters of a group a replay takes: all, those with these ids, or of one type. */
export interface DeadLetterSelection {
  ids?: string[];
  eventType?: string;
}

export interface ReplayResult {
  /** Sent back to be handled again, each as a first delivery. */
  replayed: number;
  /** Selected but not replayable (not a valid envelope): they stay dead letters. */
  skipped: number;
  /** Ids asked for that are not (or no longer) dead letters of the group; only when ids were given. */
  notFound?: string[];
}

export interface DiscardResult {
  /** Removed for good: never delivered again. */
  discarded: number;
  /** Ids asked for that are not (or no longer) dead letters of the group; only when ids were given. */
  notFound?: string[];
}

/**
 * At-least-once event delivery. A handler that throws is retried with increasing delay,
 * then dead-lettered with its reason; an invalid envelope is dead-lettered at once.
 * Handlers must therefore be idempotent (see the idempotent-consumer helpers).
 */
export interface EventBus {
  /**
   * Whether an event publish accepted outlives this process: true for the brokers, which keep
   * it until every group acknowledged it; false for the in-memory bus, whose deliveries and
   * retries die with the process. Over a bus that is not durable the outbox relays treat a
   * row sent within `replayWindowMs` as possibly undelivered (ADR 0056).
   */
  readonly durable: boolean;
  /**
   * A bus that is not durable: how long after accepting an event it may still hold it (waiting,
   * being retried), so how long the outbox relays keep a sent row ready to send again.
   */
  readonly replayWindowMs?: number;
  publish(event: EventEnvelope): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<void>;
  /** Throws when the bus cannot publish or consume (for /health/ready). */
  health(): Promise<void>;
  /** Stops consuming, waits for in-flight handlers, closes connections. */
  close(): Promise<void>;
  /** The dead letters of a consumer group, oldest first, left where they are. */
  listDeadLetters(group: string): Promise<DeadLetter[]>;
  /**
   * Sends the selected dead letters of `group` back to be handled again, as first deliveries
   * with a fresh retry budget, and removes them from the dead letters. The consumer's
   * idempotency absorbs an event that was in fact handled.
   */
  replayDeadLetters(group: string, select?: DeadLetterSelection): Promise<ReplayResult>;
  /** Removes the selected dead letters of `group` for good (an operator's decision not to handle them). */
  discardDeadLetters(group: string, select: DeadLetterSelection): Promise<DiscardResult>;
}

/** Whether a dead letter is among those `select` names. */
export function selectsDeadLetter(select: DeadLetterSelection, letter: DeadLetter): boolean {
  if (select.ids && !select.ids.includes(letter.id)) return false;
  if (select.eventType && letter.event?.eventType !== select.eventType) return false;
  return true;
}

/** The ids of `select` that no dead letter answered (undefined when it named none): for a 404. */
export function idsNotFound(select: DeadLetterSelection, matched: string[]): string[] | undefined {
  if (!select.ids) return undefined;
  const seen = new Set(matched);
  return [...new Set(select.ids)].filter((id) => !seen.has(id));
}
