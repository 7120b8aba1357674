import {
  checkPayload,
  EVENT_TYPES,
  isEventType,
  type EventPayloads,
  type EventType,
} from '../events/contracts';
import type { Logger } from '../logging/logger';
import { InFlight } from './dispatch';
import type { EventEnvelope } from './envelope';
import { isPermanentFailure, PermanentEventError, type DeadLetter, type EventBus } from './types';

export type HandleOutcome = 'handled' | 'duplicate';
/** How a delivery ended for the metrics: handled, a duplicate, or skipped by a skip rule. */
export type ConsumeOutcome = HandleOutcome | 'skipped';

export interface ConsumerHandle {
  /** Refuses further deliveries (unacknowledged, so redelivered) and waits for running ones. */
  stop(): Promise<void>;
}

/** What a consumer kit tells the service's metrics about (see service/ for the counters). */
export interface ConsumerObserver {
  handled?(group: string, eventType: string, outcome: ConsumeOutcome): void;
  deadLettered?(deadLetter: DeadLetter): void;
  /**
   * A delivery settled: how long its handler ran and how long after the event's timestamp it
   * finished (the saga step's duration, queueing included); `retried` when it failed and the bus
   * will deliver it again (a permanent failure is dead-lettered instead).
   */
  settled?(
    group: string,
    eventType: string,
    timing: { handlerSeconds: number; sinceEventSeconds: number; retried: boolean },
  ): void;
}

/** An event whose payload was checked against its contract (docs/events.md). */
export type ContractEvent<T extends EventType> = EventEnvelope<EventPayloads[T]>;

/**
 * Per consumed type, which of its events the group can do without, told from the checked payload
 * alone. Such an event is acknowledged without its handler or any store write, and counted with
 * the outcome 'skipped'. A rule must only pick events whose handling would change nothing, or
 * whose effect another event the group consumes brings anyway: a skipped event is never handled.
 */
export type SkipRules<T extends EventType> = {
  [K in T]?: (event: ContractEvent<K>) => boolean;
};

/** What a service's consumer wiring is given by the kit: the bus, a logger, the metrics observer. */
export interface ConsumerDeps {
  bus: EventBus;
  logger: Logger;
  observer?: ConsumerObserver;
  /**
   * How long a failed delivery waits for its store to come back before it is given back for a
   * retry (default 5 minutes; the store is asked every second). A store outage then costs one
   * attempt per hold instead of burning through the retry budget, and held deliveries fill the
   * consumer's prefetch, so consumption pauses until the store is back.
   */
  holdWhileDownMs?: number;
}

export interface TrackedSubscription<T extends EventType> extends ConsumerDeps {
  /** Consumer group on the bus (the service's name). */
  group: string;
  eventTypes: readonly T[];
  /** Runs one validated event; throwing makes the bus retry it (or dead-letter it at once for a PermanentEventError). */
  run: (event: ContractEvent<T>) => Promise<HandleOutcome>;
  /** Events acknowledged without `run` (see SkipRules). */
  skip?: SkipRules<T>;
  /**
   * Resolves when the consumer's own store answers (the kits pass a ping). After a failed
   * delivery it is asked: while the store is down the delivery is held (see holdWhileDownMs).
   */
  storeUp?: () => Promise<void>;
}

const STORE_POLL_MS = 1000;

/** Waits while `storeUp` fails, up to `maxMs` or until `stopped()`; true when it was down. */
async function holdWhileDown(
  storeUp: () => Promise<void>,
  maxMs: number,
  stopped: () => boolean,
): Promise<boolean> {
  const up = () =>
    storeUp().then(
      () => true,
      () => false,
    );
  if (await up()) return false;
  const deadline = Date.now() + maxMs;
  while (!stopped() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(STORE_POLL_MS, maxMs)));
    if (await up()) break;
  }
  return true;
}

/**
 * The one way a service consumes events (both store kits build on it):
 * - the payload is checked against its contract; one that breaks it can never succeed, so it
 *   is dead-lettered at once with the reason (PermanentEventError), never acked silently;
 * - deliveries in flight are tracked, and after stop() further deliveries are refused
 *   (unacknowledged, so the bus redelivers them to another instance or after a restart);
 * - dead letters of this group are reported to the observer (counted on /metrics).
 */
export async function subscribeTracked<T extends EventType>(
  options: TrackedSubscription<T>,
): Promise<ConsumerHandle> {
  const { bus, group, logger, observer } = options;
  const inFlight = new InFlight();
  let stopped = false;
  const known = new Set<string>(options.eventTypes);
  await bus.subscribe({
    group,
    eventTypes: [...options.eventTypes],
    unroute: EVENT_TYPES.filter((type) => !known.has(type)),
    onDeadLetter: (deadLetter) => observer?.deadLettered?.(deadLetter),
    handler: (event) => {
      if (stopped) return Promise.reject(new Error(`${group} consumer is stopped`));
      return inFlight.track(handle(event));
    },
  });
  return {
    async stop() {
      stopped = true;
      await inFlight.drain();
    },
  };

  async function handle(event: EventEnvelope): Promise<void> {
    if (!isEventType(event.eventType)) {
      throw new PermanentEventError(`${group} does not consume ${event.eventType}`);
    }
    if (!known.has(event.eventType)) {
      // A type this version no longer consumes, routed here before its route was removed (a
      // queued message, a replayed dead letter): nothing to do, nothing to keep.
      logger.info('event of a type not consumed here acknowledged', {
        group,
        eventId: event.eventId,
        eventType: event.eventType,
      });
      observer?.handled?.(group, event.eventType, 'skipped');
      return;
    }
    const check = checkPayload(event.eventType, event.data);
    if (!check.ok) {
      logger.error('invalid event payload', { eventId: event.eventId, reason: check.reason });
      throw new PermanentEventError(check.reason);
    }
    const checked = { ...event, data: check.data } as ContractEvent<T>;
    const skip = options.skip?.[checked.eventType as T] as
      ((e: ContractEvent<T>) => boolean) | undefined;
    if (skip?.(checked)) {
      observer?.handled?.(group, event.eventType, 'skipped');
      return;
    }
    let outcome: HandleOutcome;
    const began = performance.now();
    const settled = (retried: boolean) =>
      observer?.settled?.(group, event.eventType, {
        handlerSeconds: (performance.now() - began) / 1000,
        sinceEventSeconds: Math.max(0, (Date.now() - Date.parse(event.timestamp)) / 1000) || 0,
        retried,
      });
    try {
      outcome = await options.run(checked);
    } catch (err) {
      settled(!isPermanentFailure(err));
      if (options.storeUp && !isPermanentFailure(err)) {
        const wasDown = await holdWhileDown(
          options.storeUp,
          options.holdWhileDownMs ?? 5 * 60_000,
          () => stopped,
        );
        if (wasDown)
          logger.warn('event held while the store was down', {
            group,
            eventId: event.eventId,
            eventType: event.eventType,
          });
      }
      throw err;
    }
    if (outcome === 'duplicate') {
      logger.info('duplicate event ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
      });
    }
    settled(false);
    observer?.handled?.(group, event.eventType, outcome);
  }
}
