import Joi from 'joi';
import { randomUUID } from 'node:crypto';
import { currentCorrelationId, getContext } from '../logging/context';
import { publishTraceContext } from '../tracing/event-spans';
import { isPlainObject } from '../util/plain-object';

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

// The limits of the schema, which the check of written envelopes below applies too.
const TEXT_LIMITS = { eventType: 100, version: 10, source: 100 } as const;
const METADATA_LIMITS = {
  correlationId: 128,
  causationId: 128,
  traceparent: 128,
  tracestate: 512,
} as const;

export const envelopeSchema = Joi.object<EventEnvelope>({
  eventId: Joi.string().guid({ version: 'uuidv4' }).required(),
  eventType: Joi.string().pattern(EVENT_TYPE).max(TEXT_LIMITS.eventType).required(),
  timestamp: Joi.string().isoDate().required(),
  version: Joi.string().max(TEXT_LIMITS.version).required(),
  source: Joi.string().max(TEXT_LIMITS.source).required(),
  data: Joi.object().unknown(true).required(),
  metadata: Joi.object({
    correlationId: Joi.string().max(METADATA_LIMITS.correlationId).required(),
    causationId: Joi.string().max(METADATA_LIMITS.causationId),
    traceparent: Joi.string().max(METADATA_LIMITS.traceparent),
    tracestate: Joi.string().max(METADATA_LIMITS.tracestate),
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
  const written = asWrittenHere(value);
  if (written) return { ok: true, event: written };
  const { error, value: event } = envelopeSchema.validate(value, { abortEarly: true });
  if (error) return { ok: false, reason: `invalid envelope: ${error.message}` };
  return { ok: true, event: event as EventEnvelope };
}

// The forms createEvent writes: a lower-case hyphenated v4 id, toISOString's timestamp.
const WRITTEN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const WRITTEN_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ENVELOPE_KEYS = new Set(Object.keys(envelopeSchema.describe().keys as object));

const isText = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

/**
 * The envelope as this platform writes it (createEvent's forms), recognised without the schema:
 * joi took about 0.07 ms of CPU per delivery in place (docs/benchmarks.md, eighteenth round). Only values the schema accepts unchanged pass; anything else (another
 * ISO form, an upper-case id, a key too many) is null and left to the schema, which decides
 * and names the reason. What it returns is shaped as the schema's copy: a new envelope and
 * metadata, the same data.
 */
function asWrittenHere(v: unknown): EventEnvelope | null {
  if (!isPlainObject(v)) return null;
  for (const key in v) if (!ENVELOPE_KEYS.has(key)) return null;
  const { eventId, eventType, timestamp, version, source, data, metadata } = v;
  if (
    !(typeof eventId === 'string' && WRITTEN_ID.test(eventId)) ||
    !(isText(eventType, TEXT_LIMITS.eventType) && EVENT_TYPE.test(eventType)) ||
    !(typeof timestamp === 'string' && WRITTEN_TIMESTAMP.test(timestamp)) ||
    !isText(version, TEXT_LIMITS.version) ||
    !isText(source, TEXT_LIMITS.source) ||
    !isPlainObject(data) ||
    !isPlainObject(metadata)
  )
    return null;
  // A date the calendar does not have (February 30th) is read as another day by the schema.
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime()) || date.toISOString() !== timestamp) return null;
  if (metadata.correlationId === undefined) return null;
  for (const [key, max] of Object.entries(METADATA_LIMITS))
    if (metadata[key] !== undefined && !isText(metadata[key], max)) return null;
  return { ...v, metadata: { ...metadata } } as unknown as EventEnvelope;
}
