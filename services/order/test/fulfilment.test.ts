import {
  LINE_STEPS,
  followLines,
  leastAdvanced,
  lineFulfilment,
  type FulfilmentStatus,
} from '../src/domain/fulfilment';
import { ORDER_STATUSES, decide, type OrderStatus } from '../src/domain/state-machine';

/** Applies followLines' transitions the way the store does (each one decided from the last). */
function follow(current: OrderStatus, lines: FulfilmentStatus[]): OrderStatus {
  let status = current;
  for (const name of followLines(current, lines)) {
    const decision = decide(name, status);
    if (!decision.ok) throw new Error(decision.reason);
    status = decision.to;
  }
  return status;
}

describe('fulfilment per seller: the order follows its lines', () => {
  it('is PARTIALLY_SHIPPED while some but not all lines are shipped, SHIPPED once all are', () => {
    expect(followLines('CONFIRMED', ['SHIPPED', 'UNFULFILLED'])).toEqual(['shipPart']);
    expect(followLines('PARTIALLY_SHIPPED', ['SHIPPED', 'UNFULFILLED'])).toEqual([]);
    expect(followLines('PARTIALLY_SHIPPED', ['SHIPPED', 'SHIPPED'])).toEqual(['ship']);
    // One seller delivered before the other shipped: still partially shipped.
    expect(followLines('PARTIALLY_SHIPPED', ['DELIVERED', 'UNFULFILLED'])).toEqual([]);
    expect(followLines('PARTIALLY_SHIPPED', ['DELIVERED', 'SHIPPED'])).toEqual(['ship']);
    // A single-seller order (or an admin shipping everything) goes straight to SHIPPED.
    expect(followLines('CONFIRMED', ['SHIPPED'])).toEqual(['ship']);
  });

  it('is DELIVERED only when every line is, and never before being SHIPPED', () => {
    expect(followLines('SHIPPED', ['DELIVERED', 'SHIPPED'])).toEqual([]);
    expect(followLines('SHIPPED', ['DELIVERED', 'DELIVERED'])).toEqual(['deliver']);
    expect(follow('PARTIALLY_SHIPPED', ['DELIVERED', 'DELIVERED'])).toBe('DELIVERED');
    expect(followLines('PARTIALLY_SHIPPED', ['DELIVERED', 'DELIVERED'])).toEqual([
      'ship',
      'deliver',
    ]);
  });

  it('never moves an order backwards, twice, or out of a closed or unpaid status', () => {
    const everyMix: FulfilmentStatus[][] = [
      ['UNFULFILLED'],
      ['SHIPPED', 'UNFULFILLED'],
      ['SHIPPED', 'SHIPPED'],
      ['DELIVERED', 'SHIPPED'],
      ['DELIVERED', 'DELIVERED'],
    ];
    for (const closed of [
      'PENDING',
      'AWAITING_PAYMENT',
      'FAILED',
      'CANCELLED',
      'DELIVERED',
    ] as const) {
      for (const lines of everyMix) expect(followLines(closed, lines)).toEqual([]);
    }
    expect(followLines('SHIPPED', ['SHIPPED', 'SHIPPED'])).toEqual([]);
    expect(followLines('CONFIRMED', ['UNFULFILLED', 'UNFULFILLED'])).toEqual([]);
    for (const status of ORDER_STATUSES) expect(followLines(status, [])).toEqual([]);
  });

  it('reads a line with nothing stored as UNFULFILLED, or where its order is if that order was shipped before lines were', () => {
    expect(lineFulfilment(null, 'CONFIRMED')).toBe('UNFULFILLED');
    expect(lineFulfilment(null, 'PARTIALLY_SHIPPED')).toBe('UNFULFILLED');
    expect(lineFulfilment(null, 'CANCELLED')).toBe('UNFULFILLED');
    expect(lineFulfilment(null, 'SHIPPED')).toBe('SHIPPED');
    expect(lineFulfilment(null, 'DELIVERED')).toBe('DELIVERED');
    expect(lineFulfilment('DELIVERED', 'SHIPPED')).toBe('DELIVERED');
    expect(lineFulfilment('SHIPPED', 'PARTIALLY_SHIPPED')).toBe('SHIPPED');
  });

  it('lets lines ship only in a paid, not fully shipped order, and be delivered once shipped', () => {
    expect(LINE_STEPS.SHIPPED).toEqual({
      from: 'UNFULFILLED',
      orderIn: ['CONFIRMED', 'PARTIALLY_SHIPPED'],
    });
    expect(LINE_STEPS.DELIVERED).toEqual({
      from: 'SHIPPED',
      orderIn: ['PARTIALLY_SHIPPED', 'SHIPPED'],
    });
    expect(leastAdvanced(['DELIVERED', 'SHIPPED'])).toBe('SHIPPED');
    expect(leastAdvanced(['UNFULFILLED', 'DELIVERED'])).toBe('UNFULFILLED');
  });
});
