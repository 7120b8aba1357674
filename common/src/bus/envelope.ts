import Joi from 'joi';
import { randomUUID } from 'node:crypto';
import { currentCorrelationId, getContext } from '../logging/context';
import { publishTraceContext } from '../tracing/event-spans';

/** The one envelope every event travels in (docs/events.md). */
export interface EventEnvelope<T = unknown> {
  eventId: string;
  eventType: string;
  timestamp: string;
  version: string;
  source: string;
  data: T;
  metadata: {
    correlationId: string;
    causationId?: string;
    /** W3C trace context of the publish span (only while tracing is on). */
    traceparent?: string;
    tracestate?: string;
  };
}

export const ENVELOPE_VERSION = '1.0';

const EVENT_TYPE = /^[a-z]+(\.[a-z]+)+$/;

export const envelopeSchema = Joi.object<EventEnvelope>({
  eventId: Joi.string().guid({ version: 'uuidv4' }).required(),
  eventType: Joi.string().pattern(EVENT_TYPE).max(100).required(),
  timestamp: Joi.string().isoDate().required(),
  version: Joi.string().max(10).required(),
  source: Joi.string().max(100).required(),
  data: Joi.object().unknown(true).required(),
  metadata: Joi.object({
    correlationId: Joi.string().max(128).required(),
    causationId: Joi.string().max(128),
    traceparent: Joi.string().max(128),
    tracestate: Joi.string().max(512),
  })
    .unknown(true)
    .required(),
});

/**
 * A new event. Correlation and causation come from the current async context: inside an
 * HTTP request the request's correlation id, inside an event handler the handled event's
 * correlation id with that event as the cause. With tracing on, the metadata also carries the
 * W3C context of a `publish <type>` span, child of the active span (common/src/tracing).
 */
export function createEvent<T>(
  source: string,
  eventType: string,
  data: T,
  overrides: { correlationId?: string; causationId?: string } = {},
): EventEnvelope<T> {
  const ctx = getContext();
  const causationId = overrides.causationId ?? ctx?.causationId;
  const eventId = randomUUID();
  return {
    eventId,
    eventType,
    timestamp: new Date().toISOString(),
    version: ENVELOPE_VERSION,
    source,
    data,
    metadata: {
      correlationId: overrides.correlationId ?? currentCorrelationId(),
      ...(causationId ? { causationId } : {}),
      ...publishTraceContext(source, eventType, eventId),
    },
  };
}

/** An event caused by another: same correlation id, causation = the cause's event id. */
export function causedBy<T>(
  cause: EventEnvelope<unknown>,
  source: string,
  eventType: string,
  data: T,
): EventEnvelope<T> {
  return createEvent(source, eventType, data, {
    correlationId: cause.metadata.correlationId,
    causationId: cause.eventId,
  });
}

export type EnvelopeCheck = { ok: true; event: EventEnvelope } | { ok: false; reason: string };

/** Validates an incoming message (parsed or raw JSON) before any handler sees it. */
export function parseEnvelope(raw: unknown): EnvelopeCheck {
  let value = raw;
  if (typeof raw === 'string' || Buffer.isBuffer(raw)) {
    try {
      value = JSON.parse(raw.toString());
    } catch {
      return { ok: false, reason: 'message is not valid JSON' };
    }
  }
  const { error, value: event } = envelopeSchema.validate(value, { abortEarly: true });
  if (error) return { ok: false, reason: `invalid envelope: ${error.message}` };
  return { ok: true, event: event as EventEnvelope };
}
