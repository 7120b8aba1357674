import { createLogger, type Logger } from '../logging/logger';
import { parseEnvelope, type EventEnvelope } from './envelope';
import { dispatchDelivery, InFlight } from './dispatch';
import { REPLAY_WINDOW_MARGIN_MS } from './outbox-replay';
import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_CONSUMER_CONCURRENCY,
  DEFAULT_RETRY_POLICY,
  idsNotFound,
  retryBudgetMs,
  retryDelayMs,
  selectsDeadLetter,
} from './types';
import type {
  DeadLetter,
  DeadLetterSelection,
  DiscardResult,
  EventBus,
  ReplayResult,
  RetryPolicy,
  SubscribeOptions,
} from './types';

interface Subscription extends SubscribeOptions {
  types: Set<string>;
  /** Deliveries being handled, and those due that wait for one of them to finish. */
  active: number;
  waiting: Array<() => Promise<void>>;
}

/**
 * In-process bus with the real adapters' semantics: delivery is asynchronous (never inside
 * publish), each consumer group gets its own copy, failures are retried with increasing
 * delay and then dead-lettered. Messages are serialised like on the wire, so handlers never
 * share an object with the publisher. For unit tests and the embedded run (one process).
 *
 * Not durable: what it accepted dies with the process. The outbox relays make up for it by
 * sending again, after a restart, what they sent within `replayWindowMs` (ADR 0056).
 */
export class InMemoryEventBus implements EventBus {
  readonly durable = false;
  /** Longer than any event can stay in its hands: the retry budget and a margin, by default. */
  readonly replayWindowMs: number;
  readonly deadLetters: DeadLetter[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new InFlight();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly immediates = new Set<NodeJS.Immediate>();
  /** Messages published while held (hold), routed at release. */
  private held?: Array<{ raw: string; eventType: string }>;
  private closed = false;

  constructor(
    private readonly options: {
      retry?: Partial<RetryPolicy>;
      logger?: Logger;
      /**
       * Deliveries one subscription handles at once (default DEFAULT_CONSUMER_CONCURRENCY, as
       * on the other buses); the rest wait their turn in order.
       */
      concurrency?: number;
      /** See EventBus.replayWindowMs (OUTBOX_REPLAY_WINDOW_MS). */
      replayWindowMs?: number;
    } = {},
  ) {
    const c = options.concurrency;
    if (c !== undefined && !(Number.isInteger(c) && c >= 1))
      throw new RangeError(`the bus's concurrency is a whole number from 1, not ${c}`);
    this.replayWindowMs =
      options.replayWindowMs ?? retryBudgetMs(this.policy) + REPLAY_WINDOW_MARGIN_MS;
  }

  private get concurrency(): number {
    return this.options.concurrency ?? DEFAULT_CONSUMER_CONCURRENCY;
  }

  private get policy(): RetryPolicy {
    return { ...DEFAULT_RETRY_POLICY, ...this.options.retry };
  }

  private get logger(): Logger {
    return (this.options.logger ??= createLogger('event-bus'));
  }

  async publish(event: EventEnvelope): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
    this.route(JSON.stringify(event), event.eventType);
  }

  /** Delivers a raw message as if it came off the wire (tests use it for invalid input). */
  async publishRaw(raw: string, eventType: string): Promise<void> {
    this.route(raw, eventType);
  }

  /**
   * Keeps what is published from now on until release(), which routes it to the subscriptions
   * of that moment. A message goes to the groups subscribed when it is routed, and this bus
   * forgets its groups with the process: a launcher starting several services on it holds it
   * until all have subscribed, or what the first ones' relays send again at start (ADR 0056)
   * would miss the services started after them. idle() does not wait for held messages.
   */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const { raw, eventType } of held) this.route(raw, eventType);
  }

  private route(raw: string, eventType: string): void {
    if (this.held) {
      this.held.push({ raw, eventType });
      return;
    }
    for (const sub of this.subscriptions) {
      if (sub.types.has(eventType)) this.schedule(sub, raw, 1, 0);
    }
  }

  async subscribe(options: SubscribeOptions): Promise<void> {
    this.subscriptions.push({
      ...options,
      types: new Set(options.eventTypes),
      active: 0,
      waiting: [],
    });
  }

  async health(): Promise<void> {
    if (this.closed) throw new Error('event bus is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const immediate of this.immediates) clearImmediate(immediate);
    this.immediates.clear();
    // Deliveries waiting their turn are dropped with the scheduled and held ones: this bus
    // keeps nothing (the outbox relays send again what may be lost).
    for (const sub of this.subscriptions) sub.waiting.length = 0;
    this.held = undefined;
    await this.inFlight.drain();
  }

  async listDeadLetters(group: string): Promise<DeadLetter[]> {
    return this.deadLetters.filter((d) => d.group === group);
  }

  async replayDeadLetters(group: string, select: DeadLetterSelection = {}): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, skipped: 0 };
    const subs = this.subscriptions.filter((s) => s.group === group);
    const matched: string[] = [];
    for (const letter of [...this.deadLetters]) {
      if (letter.group !== group || !selectsDeadLetter(select, letter)) continue;
      matched.push(letter.id);
      if (!letter.event || !subs.length) {
        result.skipped++;
        continue;
      }
      this.deadLetters.splice(this.deadLetters.indexOf(letter), 1);
      const raw = JSON.stringify(letter.event);
      // Only the subscriptions of this group that take the event's type (one copy per group).
      for (const sub of subs)
        if (sub.types.has(letter.event.eventType)) this.schedule(sub, raw, 1, 0);
      result.replayed++;
    }
    const notFound = idsNotFound(select, matched);
    return notFound ? { ...result, notFound } : result;
  }

  async discardDeadLetters(group: string, select: DeadLetterSelection): Promise<DiscardResult> {
    const chosen = this.deadLetters.filter(
      (d) => d.group === group && selectsDeadLetter(select, d),
    );
    for (const letter of chosen) this.deadLetters.splice(this.deadLetters.indexOf(letter), 1);
    const notFound = idsNotFound(
      select,
      chosen.map((d) => d.id),
    );
    return { discarded: chosen.length, ...(notFound ? { notFound } : {}) };
  }

  /** Resolves when nothing is scheduled or running (tests wait on it). */
  async idle(): Promise<void> {
    for (;;) {
      // Scheduled deliveries (first attempts on setImmediate, retries on timers) count as work;
      // they are checked again after the in-flight check, since a handler that failed while we
      // waited has just scheduled its retry, and returning then would skip it.
      // (A delivery waiting for its group's turn implies one running, which is in flight.)
      const scheduled = () => this.timers.size + this.immediates.size > 0;
      if (!scheduled() && !(await this.hasInFlight()) && !scheduled()) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async hasInFlight(): Promise<boolean> {
    let pending = false;
    await Promise.race([
      this.inFlight.drain(),
      new Promise<void>((resolve) =>
        setImmediate(() => {
          pending = true;
          resolve();
        }),
      ),
    ]);
    return pending;
  }

  private schedule(
    sub: Subscription,
    raw: string,
    attempt: number,
    delayMs: number,
    firstFailedAt?: string,
  ): void {
    if (this.closed) return;
    if (delayMs <= 0) {
      // First deliveries: the next turn of the event loop (setTimeout(0) would cost ≥ 1 ms per hop of a saga).
      const immediate = setImmediate(() => {
        this.immediates.delete(immediate);
        this.start(sub, () => this.deliver(sub, raw, attempt, firstFailedAt));
      });
      this.immediates.add(immediate);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.start(sub, () => this.deliver(sub, raw, attempt, firstFailedAt));
    }, delayMs);
    this.timers.add(timer);
  }

  /**
   * Runs a due delivery, or queues it while the group has as many running as it may: without
   * the bound, an overload started every delivery at once, and they took turns on the same
   * database connections and the one event loop until far more of them were late than done
   * (docs/benchmarks.md, twenty-sixth round).
   */
  private start(sub: Subscription, delivery: () => Promise<void>): void {
    if (this.closed) return;
    if (sub.active >= this.concurrency) {
      // Bound to the context it became due in, not the one of the delivery that frees its turn.
      sub.waiting.push(AsyncResource.bind(delivery));
      return;
    }
    sub.active += 1;
    void this.inFlight.track(
      delivery().finally(() => {
        sub.active -= 1;
        const next = sub.waiting.shift();
        if (next) this.start(sub, next);
      }),
    );
  }

  private async deliver(
    sub: Subscription,
    raw: string,
    attempt: number,
    firstFailedAt?: string,
  ): Promise<void> {
    const parsed = parseEnvelope(raw);
    if (!parsed.ok) {
      this.deadLetter(sub, parsed.reason, attempt, undefined, raw);
      return;
    }
    const failure = await dispatchDelivery(this.logger, sub, parsed.event, attempt, this.policy);
    if (!failure) return;
    const first = firstFailedAt ?? new Date().toISOString();
    if (failure.deadLetter)
      this.deadLetter(sub, failure.reason, attempt, parsed.event, undefined, first);
    else this.schedule(sub, raw, attempt + 1, retryDelayMs(this.policy, attempt), first);
  }

  private deadLetter(
    sub: Subscription,
    reason: string,
    attempts: number,
    event?: EventEnvelope,
    raw?: string,
    firstFailedAt?: string,
  ): void {
    const { group } = sub;
    const deadAt = new Date().toISOString();
    this.logger.error('event dead-lettered', { group, reason, attempts, eventId: event?.eventId });
    const deadLetter: DeadLetter = {
      id: randomUUID(),
      group,
      reason,
      attempts,
      ...(event ? { event } : {}),
      ...(raw !== undefined ? { raw } : {}),
      deadAt,
      firstFailedAt: firstFailedAt ?? deadAt,
    };
    this.deadLetters.push(deadLetter);
    sub.onDeadLetter?.(deadLetter);
  }
}
