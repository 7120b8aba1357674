import { causedBy, createEvent, parseEnvelope } from '../src/bus';
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
