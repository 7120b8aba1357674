import client from 'prom-client';
import type { ConsumerObserver } from '../bus/consumer';

/** Seconds: from a few milliseconds (a local handler) to minutes (a saga waiting on a retry). */
const EVENT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The consumer side of the bus on /metrics, labelled by consumer group and event type (both
 * bounded: the groups are the services, the types are the contracts of docs/events.md).
 */
export function consumerMetrics(registry: client.Registry): ConsumerObserver {
  const labelNames = ['group', 'event_type'] as const;
  const registers = [registry];
  const handled = new client.Counter({
    name: 'events_handled_total',
    help: 'Events consumed, by consumer group, type and outcome (handled, duplicate, skipped)',
    labelNames: [...labelNames, 'outcome'] as const,
    registers,
  });
  const dead = new client.Counter({
    name: 'events_dead_lettered_total',
    help: 'Events dead-lettered by this service, by consumer group and type',
    labelNames,
    registers,
  });
  const retried = new client.Counter({
    name: 'events_retried_total',
    help: 'Deliveries whose handler failed and that the bus delivers again',
    labelNames,
    registers,
  });
  const handlerDuration = new client.Histogram({
    name: 'events_handler_duration_seconds',
    help: 'Time an event handler ran, by consumer group and type',
    labelNames,
    buckets: EVENT_BUCKETS,
    registers,
  });
  const sinceEvent = new client.Histogram({
    name: 'events_processed_delay_seconds',
    help: "From an event's timestamp to its handler finishing (saga step duration, consumer lag included)",
    labelNames,
    buckets: EVENT_BUCKETS,
    registers,
  });
  return {
    handled: (group, eventType, outcome) => handled.inc({ group, event_type: eventType, outcome }),
    deadLettered: (d) =>
      dead.inc({ group: d.group, event_type: d.event?.eventType ?? 'unparsable' }),
    settled(group, eventType, timing) {
      const labels = { group, event_type: eventType };
      handlerDuration.observe(labels, timing.handlerSeconds);
      sinceEvent.observe(labels, timing.sinceEventSeconds);
      if (timing.retried) retried.inc(labels);
    },
  };
}
