import { checkPayload, isEventType, type EventPayloads, type EventType } from '../events/contracts';
import type { Logger } from '../logging/logger';
import { InFlight } from './dispatch';
import type { EventEnvelope } from './envelope';
import { PermanentEventError, type DeadLetter, type EventBus } from './types';

export type HandleOutcome = 'handled' | 'duplicate';

export interface ConsumerHandle {
  /** Refuses further deliveries (unacknowledged, so redelivered) and waits for running ones. */
  stop(): Promise<void>;
}

/** What a consumer kit tells the service's metrics about (see service/ for the counters). */
export interface ConsumerObserver {
  handled?(group: string, eventType: string, outcome: HandleOutcome): void;
  deadLettered?(deadLetter: DeadLetter): void;
}

/** An event whose payload was checked against its contract (docs/events.md). */
export type ContractEvent<T extends EventType> = EventEnvelope<EventPayloads[T]>;

/** What a service's consumer wiring is given by the kit: the bus, a logger, the metrics observer. */
export interface ConsumerDeps {
  bus: EventBus;
  logger: Logger;
  observer?: ConsumerObserver;
}

export interface TrackedSubscription<T extends EventType> extends ConsumerDeps {
  /** Consumer group on the bus (the service's name). */
  group: string;
  eventTypes: readonly T[];
  /** Runs one validated event; throwing makes the bus retry it (or dead-letter it at once for a PermanentEventError). */
  run: (event: ContractEvent<T>) => Promise<HandleOutcome>;
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
    if (!known.has(event.eventType) || !isEventType(event.eventType)) {
      throw new PermanentEventError(`${group} does not consume ${event.eventType}`);
    }
    const check = checkPayload(event.eventType, event.data);
    if (!check.ok) {
      logger.error('invalid event payload', { eventId: event.eventId, reason: check.reason });
      throw new PermanentEventError(check.reason);
    }
    const outcome = await options.run({ ...event, data: check.data } as ContractEvent<T>);
    if (outcome === 'duplicate') {
      logger.info('duplicate event ignored', {
        eventId: event.eventId,
        eventType: event.eventType,
      });
    }
    observer?.handled?.(group, event.eventType, outcome);
  }
}
