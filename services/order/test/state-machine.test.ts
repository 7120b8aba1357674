import {
  ORDER_STATUSES,
  TRANSITIONS,
  decide,
  isCancellable,
  isTerminal,
  nextStatuses,
  type OrderStatus,
  type TransitionName,
} from '../src/domain/state-machine';

describe('order state machine', () => {
  it('follows the saga forward', () => {
    const path: Array<[TransitionName, OrderStatus, OrderStatus]> = [
      ['reservedWithPayment', 'PENDING', 'PAYMENT_PROCESSING'],
      ['confirm', 'PAYMENT_PROCESSING', 'CONFIRMED'],
      ['ship', 'CONFIRMED', 'SHIPPED'],
      ['deliver', 'SHIPPED', 'DELIVERED'],
    ];
    for (const [name, from, to] of path) expect(decide(name, from)).toEqual({ ok: true, from, to });
  });

  it('lets an order wait for payment, retry after a decline, and be paid', () => {
    expect(decide('reservedAwaitingPayment', 'PENDING')).toMatchObject({
      ok: true,
      to: 'AWAITING_PAYMENT',
    });
    expect(decide('paymentStarted', 'AWAITING_PAYMENT')).toMatchObject({
      ok: true,
      to: 'PAYMENT_PROCESSING',
    });
    expect(decide('paymentDeclinedRetryable', 'PAYMENT_PROCESSING')).toMatchObject({
      ok: true,
      to: 'AWAITING_PAYMENT',
    });
    expect(decide('confirm', 'AWAITING_PAYMENT')).toMatchObject({ ok: true, to: 'CONFIRMED' });
  });

  it('refuses late or duplicate saga events once an order has moved on', () => {
    for (const status of ['CONFIRMED', 'SHIPPED', 'DELIVERED', 'FAILED', 'CANCELLED'] as const) {
      expect(decide('reservedWithPayment', status).ok).toBe(false);
      expect(decide('fail', status).ok).toBe(false);
      expect(decide('paymentStarted', status).ok).toBe(false);
    }
    expect(decide('confirm', 'CONFIRMED').ok).toBe(false); // duplicate payment.completed
    expect(decide('confirm', 'CANCELLED').ok).toBe(false); // paid after the customer cancelled
    const refused = decide('ship', 'PENDING');
    expect(refused).toEqual({
      ok: false,
      from: 'PENDING',
      to: 'SHIPPED',
      reason: 'ship: cannot go from PENDING to SHIPPED',
    });
  });

  it('ships a multi-seller order in parts: PARTIALLY_SHIPPED from CONFIRMED, then SHIPPED', () => {
    expect(decide('shipPart', 'CONFIRMED')).toEqual({
      ok: true,
      from: 'CONFIRMED',
      to: 'PARTIALLY_SHIPPED',
    });
    expect(decide('ship', 'PARTIALLY_SHIPPED')).toMatchObject({ ok: true, to: 'SHIPPED' });
    expect(decide('deliver', 'PARTIALLY_SHIPPED').ok).toBe(false);
    expect(decide('shipPart', 'SHIPPED').ok).toBe(false);
    expect(nextStatuses('PARTIALLY_SHIPPED')).toEqual(['CANCELLED', 'SHIPPED']);
    // Nothing of the saga moves it but a full refund: it is as far from cancel, fail or expire
    // as SHIPPED.
    for (const name of ['cancel', 'fail', 'expire', 'confirm', 'reservedWithPayment'] as const) {
      expect(decide(name, 'PARTIALLY_SHIPPED').ok).toBe(false);
    }
  });

  it('ends an order refunded in full unless every line is shipped (docs/adr/0054)', () => {
    expect(ORDER_STATUSES.filter((s) => decide('refundedInFull', s).ok)).toEqual([
      'PENDING',
      'AWAITING_PAYMENT',
      'PAYMENT_PROCESSING',
      'CONFIRMED',
      'PARTIALLY_SHIPPED',
    ]);
    expect(decide('refundedInFull', 'PARTIALLY_SHIPPED')).toEqual({
      ok: true,
      from: 'PARTIALLY_SHIPPED',
      to: 'CANCELLED',
    });
  });

  it('allows cancelling only before shipping; expiry only while waiting for payment', () => {
    expect(ORDER_STATUSES.filter(isCancellable)).toEqual([
      'PENDING',
      'AWAITING_PAYMENT',
      'PAYMENT_PROCESSING',
      'CONFIRMED',
    ]);
    expect(ORDER_STATUSES.filter((s) => decide('expire', s).ok)).toEqual(['AWAITING_PAYMENT']);
  });

  it('has exactly three terminal statuses and never leaves them', () => {
    expect(ORDER_STATUSES.filter(isTerminal)).toEqual(['DELIVERED', 'FAILED', 'CANCELLED']);
    expect(nextStatuses('PENDING').sort()).toEqual([
      'AWAITING_PAYMENT',
      'CANCELLED',
      'CONFIRMED',
      'FAILED',
      'PAYMENT_PROCESSING',
    ]);
    expect(nextStatuses('SHIPPED')).toEqual(['DELIVERED']);
  });

  it('never lists a status as its own successor (no self-loops)', () => {
    for (const rule of Object.values(TRANSITIONS)) {
      expect(rule.from as readonly string[]).not.toContain(rule.to);
    }
  });
});
