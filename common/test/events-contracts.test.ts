import { contractEvent } from '../src/bus';
import { checkPayload, EVENT_SCHEMAS, EVENT_TYPES, isEventType } from '../src/events';

describe('event contracts', () => {
  it('has one schema per event type of docs/events.md', () => {
    expect(EVENT_TYPES).toEqual(
      expect.arrayContaining([
        'user.created',
        'product.inventory.low',
        'inventory.reserved',
        'order.created',
        'order.payment.overdue',
        'payment.refunded',
        'comment.flagged',
      ]),
    );
    expect(EVENT_TYPES).toHaveLength(Object.keys(EVENT_SCHEMAS).length);
    expect(isEventType('order.created')).toBe(true);
    expect(isEventType('toString')).toBe(false);
  });

  it('lets consumers read tolerantly and holds publishers to the contract', () => {
    const data = { orderId: 'o1', reason: 'x', items: [], note: 'new field' };
    expect(checkPayload('order.failed', data)).toEqual({ ok: true, data });
    expect(checkPayload('order.failed', data, { strict: true })).toEqual({
      ok: false,
      reason: 'invalid order.failed payload: note: object.unknown',
    });
  });

  it('names the field and the rule, never the value', () => {
    const secret = 'tok_secret_9999';
    const check = checkPayload('order.created', {
      orderId: 'o1',
      userId: 'u1',
      items: [{ productId: 'p', quantity: 0, unitPrice: 1, name: 'n' }],
      total: { amount: 1, currency: 'USD' },
      payment: { method: 'card', token: secret },
    });
    expect(check).toEqual({
      ok: false,
      reason: 'invalid order.created payload: items.0.quantity: number.min',
    });
    expect(JSON.stringify(check)).not.toContain(secret);
    expect(
      checkPayload('payment.completed', {
        orderId: 'o',
        paymentId: 'p',
        amount: { amount: 1.5, currency: 'USD' },
      }).ok,
    ).toBe(false);
  });

  it("reads payment.initiated's source when given, one of the two, and without it from older publishers", () => {
    const data = {
      paymentId: 'p',
      orderId: 'o',
      amount: { amount: 1, currency: 'USD' },
      attempt: 1,
    };
    expect(checkPayload('payment.initiated', data).ok).toBe(true);
    expect(checkPayload('payment.initiated', { ...data, source: 'order' }).ok).toBe(true);
    expect(checkPayload('payment.initiated', { ...data, source: 'initiate' }).ok).toBe(true);
    expect(checkPayload('payment.initiated', { ...data, source: 'webhook' })).toEqual({
      ok: false,
      reason: 'invalid payment.initiated payload: source: any.only',
    });
  });

  it('contractEvent builds the envelope or refuses a payload that breaks the contract', () => {
    const event = contractEvent('order-service', 'order.completed', { orderId: 'o1' });
    expect(event).toMatchObject({
      eventType: 'order.completed',
      source: 'order-service',
      data: { orderId: 'o1' },
    });
    expect(() =>
      contractEvent('order-service', 'order.completed', { orderId: 1 } as never),
    ).toThrow(
      'order-service would publish an invalid order.completed payload: orderId: string.base',
    );
  });
});
