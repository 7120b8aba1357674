import { causedBy, createEvent, parseEnvelope } from '../src/bus';
import { envelopeSchema } from '../src/bus/envelope';
import { runWithContext } from '../src/logging';

describe('event envelope', () => {
  it('builds the envelope of docs/events.md with a v4 id and the context correlation id', () => {
    const event = runWithContext({ correlationId: 'corr-12345678' }, () =>
      createEvent('order-service', 'order.created', { orderId: 'o1' }),
    );
    expect(event).toMatchObject({
      eventType: 'order.created',
      version: '1.0',
      source: 'order-service',
      data: { orderId: 'o1' },
      metadata: { correlationId: 'corr-12345678' },
    });
    expect(event.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.metadata).not.toHaveProperty('causationId');
    expect(parseEnvelope(event)).toEqual({ ok: true, event });
  });

  it('inside a handler, names the handled event as the cause', () => {
    const cause = createEvent('order-service', 'order.created', { orderId: 'o1' });
    const caused = runWithContext(
      { correlationId: cause.metadata.correlationId, causationId: cause.eventId },
      () => createEvent('product-service', 'inventory.reserved', { orderId: 'o1' }),
    );
    expect(caused.metadata).toEqual({
      correlationId: cause.metadata.correlationId,
      causationId: cause.eventId,
    });
    expect(causedBy(cause, 'p', 'inventory.rejected', {}).metadata).toEqual(caused.metadata);
  });

  it('rejects invalid messages with a reason instead of throwing', () => {
    expect(parseEnvelope('{not json')).toEqual({ ok: false, reason: 'message is not valid JSON' });
    const event = createEvent('s', 'order.created', {});
    const missing = parseEnvelope({ ...event, eventId: 'nope' });
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.reason).toMatch(/eventId/);
    expect(parseEnvelope({ ...event, data: 'x' }).ok).toBe(false);
    expect(parseEnvelope({ ...event, eventType: 'Order Created!' }).ok).toBe(false);
    expect(parseEnvelope(Buffer.from(JSON.stringify(event)))).toEqual({ ok: true, event });
  });
});

describe('envelopes as the platform writes them', () => {
  const cause = createEvent('order-service', 'order.created', { orderId: 'o1', items: [{ n: 1 }] });
  const caused = causedBy(cause, 'product-service', 'inventory.reserved', { orderId: 'o1' });
  /** Read from the wire: what a consumer is given. */
  const wire = (e: unknown) => JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
  /** The schema's own verdict, as parseEnvelope words it. */
  const schemaSays = (v: unknown) => {
    const { error, value } = envelopeSchema.validate(v, { abortEarly: true });
    return error
      ? { ok: false, reason: `invalid envelope: ${error.message}` }
      : { ok: true, event: value };
  };
  let validate: jest.SpyInstance;
  beforeEach(() => {
    validate = jest.spyOn(envelopeSchema, 'validate');
  });
  afterEach(() => validate.mockRestore());

  it('are accepted without asking the schema; other forms are the schema’s to judge', () => {
    const traced = {
      ...caused,
      metadata: { ...caused.metadata, traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
    };
    for (const e of [cause, caused, traced]) {
      expect(parseEnvelope(Buffer.from(JSON.stringify(e)))).toEqual({ ok: true, event: e });
      expect(parseEnvelope(JSON.stringify(e))).toEqual({ ok: true, event: e });
    }
    expect(validate).not.toHaveBeenCalled();
    // Another ISO form: the schema accepts it and writes it as toISOString would.
    const otherForm = parseEnvelope({ ...wire(cause), timestamp: '2026-01-01T00:00:00Z' });
    expect(otherForm).toEqual({
      ok: true,
      event: { ...wire(cause), timestamp: '2026-01-01T00:00:00.000Z' },
    });
    expect(validate).toHaveBeenCalledTimes(1);
  });

  it('get the same verdict, value and reason as from the schema, on every variant tried', () => {
    const base = wire(caused);
    const meta = base.metadata as Record<string, unknown>;
    const values: unknown[] = ['', ' ', 'x', 0, 1.5, true, null, [], {}, ['a'], { a: 1 }];
    for (const n of [10, 11, 100, 101, 128, 129, 512, 513]) values.push('x'.repeat(n));
    const variants: unknown[] = [base, null, [], 42, { ...base, extra: 1 }];
    variants.push(Object.assign(Object.create(null), base));
    for (const key of Object.keys(base)) {
      const { [key]: _left, ...without } = base;
      variants.push(without, ...values.map((v) => ({ ...base, [key]: v })));
    }
    for (const key of ['correlationId', 'causationId', 'traceparent', 'tracestate', 'other']) {
      const { [key]: _left, ...without } = meta;
      variants.push({ ...base, metadata: without });
      for (const v of values) variants.push({ ...base, metadata: { ...meta, [key]: v } });
    }
    const id = base.eventId as string;
    for (const eventId of [
      id.toUpperCase(),
      `{${id}}`,
      id.replace(/-/g, ''),
      '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      `${id.slice(0, 19)}c${id.slice(20)}`,
    ])
      variants.push({ ...base, eventId });
    for (const timestamp of [
      '2026-01-01T00:00:00Z',
      '2026-01-01T00:00:00.000+00:00',
      '2026-02-30T00:00:00.000Z',
      '2026-13-01T00:00:00.000Z',
      '2026-01-01T24:00:00.000Z',
      '2026-01-01',
      'yesterday',
    ])
      variants.push({ ...base, timestamp });
    for (const eventType of [
      'Order.created',
      'order',
      'order.created.again',
      `a.${'b'.repeat(98)}`,
      `a.${'b'.repeat(97)}`,
    ])
      variants.push({ ...base, eventType });

    let withoutSchema = 0;
    for (const v of variants) {
      const asked = validate.mock.calls.length;
      const got = parseEnvelope(v);
      if (validate.mock.calls.length === asked) withoutSchema += 1;
      expect(got).toEqual(schemaSays(v));
    }
    // The check did recognise the written forms among them (the limits' edges included).
    expect(withoutSchema).toBeGreaterThan(10);
  });
});
