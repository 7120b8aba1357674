import {
  awaitsSagaEvents,
  chargeIdempotencyKey,
  checkRefund,
  declineIsRetryable,
  mockChargeOutcome,
  nextAction,
  notPayableReason,
  statusAfterDecline,
  statusAfterRefund,
  type PaymentFacts,
} from '../src/domain/payment-rules';
import { MockPaymentGateway } from '../src/gateway/mock-gateway';

const facts = (over: Partial<PaymentFacts>): PaymentFacts => ({
  status: 'PENDING',
  orderKnown: false,
  reserved: false,
  closed: null,
  hasDetails: true,
  amountCents: 1000,
  refundedCents: 0,
  ...over,
});

describe('payment rules', () => {
  it('charges only when the order is known AND reserved, whatever came first', () => {
    expect(nextAction(facts({ orderKnown: true }))).toBe('none');
    expect(nextAction(facts({ reserved: true }))).toBe('none');
    expect(nextAction(facts({ orderKnown: true, reserved: true }))).toBe('charge');
    expect(nextAction(facts({ orderKnown: true, reserved: true, hasDetails: false }))).toBe(
      'await',
    );
  });

  it('never charges a closed order, and refunds a charged one that is cancelled', () => {
    expect(nextAction(facts({ orderKnown: true, reserved: true, closed: 'CANCELLED' }))).toBe(
      'cancel',
    );
    expect(nextAction(facts({ orderKnown: true, closed: 'REJECTED' }))).toBe('cancel');
    expect(nextAction(facts({ status: 'AWAITING_PAYMENT', closed: 'CANCELLED' }))).toBe('cancel');
    expect(nextAction(facts({ status: 'COMPLETED', closed: 'CANCELLED' }))).toBe('refund');
    expect(
      nextAction(facts({ status: 'PARTIALLY_REFUNDED', closed: 'CANCELLED', refundedCents: 400 })),
    ).toBe('refund');
    expect(
      nextAction(facts({ status: 'REFUNDED', closed: 'CANCELLED', refundedCents: 1000 })),
    ).toBe('none');
    // In flight: decided when the result is recorded.
    expect(nextAction(facts({ status: 'PROCESSING', closed: 'CANCELLED' }))).toBe('none');
    expect(nextAction(facts({ status: 'COMPLETED' }))).toBe('none');
    expect(nextAction(facts({ status: 'FAILED', orderKnown: true, reserved: true }))).toBe('none');
  });

  it('keys each attempt by order id and attempt number', () => {
    expect(chargeIdempotencyKey('o-1', 1)).toBe('o-1:1');
    expect(chargeIdempotencyKey('o-1', 2)).not.toBe(chargeIdempotencyKey('o-1', 1));
  });

  it('lets partial refunds sum to at most the amount', () => {
    expect(checkRefund('COMPLETED', 1000, 0)).toEqual({ ok: true, amount: 1000 });
    expect(checkRefund('COMPLETED', 1000, 0, 300)).toEqual({ ok: true, amount: 300 });
    expect(checkRefund('PARTIALLY_REFUNDED', 1000, 300, 700)).toEqual({ ok: true, amount: 700 });
    expect(checkRefund('PARTIALLY_REFUNDED', 1000, 300, 701)).toMatchObject({
      ok: false,
      code: 'REFUND_EXCEEDS_AMOUNT',
    });
    expect(checkRefund('REFUNDED', 1000, 1000, 1)).toMatchObject({
      ok: false,
      code: 'NOT_REFUNDABLE',
    });
    expect(checkRefund('FAILED', 1000, 0)).toMatchObject({ ok: false, code: 'NOT_REFUNDABLE' });
    expect(checkRefund('COMPLETED', 1000, 0, 0)).toMatchObject({
      ok: false,
      code: 'NOTHING_TO_REFUND',
    });
    expect(statusAfterRefund(1000, 999)).toBe('PARTIALLY_REFUNDED');
    expect(statusAfterRefund(1000, 1000)).toBe('REFUNDED');
  });

  it('fails card details given with the order for good; lets /initiate retry', () => {
    expect(declineIsRetryable('order')).toBe(false);
    expect(declineIsRetryable('initiate')).toBe(true);
    expect(statusAfterDecline('order', null)).toBe('FAILED');
    expect(statusAfterDecline('initiate', null)).toBe('AWAITING_PAYMENT');
    // The order closed while the /initiate charge was in flight: nothing more will be charged.
    expect(statusAfterDecline('initiate', 'CANCELLED')).toBe('CANCELLED');
  });

  it('says why /initiate cannot pay a payment in each other status', () => {
    expect(notPayableReason('PENDING')).toMatch(/not reserved yet/);
    expect(notPayableReason('PROCESSING')).toMatch(/already in progress/);
    for (const paid of ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'] as const) {
      expect(notPayableReason(paid)).toBe('This order is already paid');
    }
    expect(notPayableReason('CANCELLED')).toBe(
      'This order can no longer be paid (payment CANCELLED)',
    );
  });

  it("has /initiate wait for the order's creation and reservation, never for another user's order", () => {
    const known = { user_id: 'u1', order_known: true, reserved: false, order_closed: null };
    expect(awaitsSagaEvents(null, 'u1')).toBe(true); // order.created not handled yet
    // The reservation handled first: the order's owner is not known yet.
    expect(
      awaitsSagaEvents({ ...known, user_id: null, order_known: false, reserved: true }, 'u1'),
    ).toBe(true);
    expect(awaitsSagaEvents(known, 'u1')).toBe(true); // not reserved yet
    expect(awaitsSagaEvents(known, 'u2')).toBe(false); // another user's: 404 now
    expect(awaitsSagaEvents({ ...known, reserved: true }, 'u1')).toBe(false);
    // Rejected or cancelled before any reservation: 409 now.
    expect(awaitsSagaEvents({ ...known, order_closed: 'REJECTED' }, 'u1')).toBe(false);
  });

  it('maps the test tokens deterministically', () => {
    expect(mockChargeOutcome('tok_visa')).toEqual({ ok: true });
    expect(mockChargeOutcome('tok_chargeDeclined')).toMatchObject({
      ok: false,
      code: 'card_declined',
    });
    expect(mockChargeOutcome('tok_insufficientFunds')).toMatchObject({
      ok: false,
      code: 'insufficient_funds',
    });
    expect(mockChargeOutcome('tok_whatever')).toMatchObject({ ok: false, code: 'invalid_token' });
  });
});

describe('MockPaymentGateway', () => {
  it('lists only its latest adapter calls, so a running service does not keep every one', async () => {
    const gw = new MockPaymentGateway({ recordedCalls: 3 });
    for (let n = 1; n <= 5; n += 1)
      await gw.charge({
        idempotencyKey: `o${n}:1`,
        amount: 100 * n,
        currency: 'USD',
        method: 'card',
        token: 'tok_visa',
      });
    expect(gw.calls.map((c) => c.idempotencyKey)).toEqual(['o3:1', 'o4:1', 'o5:1']);
    // The ledger, the money moved, keeps everything.
    expect(await gw.chargesMade({ keyPrefix: 'o' })).toBe(5);
  });

  it('answers a repeated idempotency key with the first result and refunds at most the charge', async () => {
    const gw = new MockPaymentGateway();
    const req = {
      idempotencyKey: 'o:1',
      amount: 500,
      currency: 'USD',
      method: 'card',
      token: 'tok_visa',
    };
    const a = await gw.charge(req);
    const b = await gw.charge(req);
    expect(a.ok).toBe(true);
    expect(b).toEqual(a);
    expect(gw.callsFor('o:1')).toBe(2);
    if (!a.ok) throw new Error('expected a charge');
    expect(
      await gw.refund({ idempotencyKey: 'r1', chargeId: a.chargeId, amount: 300, currency: 'USD' }),
    ).toMatchObject({ ok: true });
    expect(
      await gw.refund({ idempotencyKey: 'r2', chargeId: a.chargeId, amount: 201, currency: 'USD' }),
    ).toMatchObject({ ok: false, code: 'amount_too_large' });
    expect(
      await gw.refund({ idempotencyKey: 'r3', chargeId: 'ch_nope', amount: 1, currency: 'USD' }),
    ).toMatchObject({ ok: false, code: 'unknown_charge' });
  });
});
