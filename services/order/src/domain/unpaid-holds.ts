import { BusinessRuleError } from '@ecom/common/errors';
import type { OrderStatus } from './state-machine';

/**
 * An order placed without payment details holds its stock while the customer pays (until its
 * reservation runs out): free for the customer, and a way to keep a product out of stock for
 * everyone else. So one account may hold only so much unpaid at a time.
 */
export interface UnpaidHoldLimits {
  /** Open orders placed without payment details, per account. */
  maxOrders: number;
  /** Units across them. */
  maxUnits: number;
}

/** An order placed without payment details holds stock, unpaid, in these statuses. */
export const UNPAID_HOLD_STATUSES: readonly OrderStatus[] = [
  'PENDING',
  'AWAITING_PAYMENT',
  'PAYMENT_PROCESSING',
];

/** What an account holds unpaid now. */
export interface UnpaidHolds {
  orders: number;
  units: number;
}

/** 422 UNPAID_HOLD_LIMIT when an order of `units` more would pass a limit. */
export function assertMayHoldUnpaid(
  held: UnpaidHolds,
  units: number,
  limits: UnpaidHoldLimits,
): void {
  if (held.orders + 1 <= limits.maxOrders && held.units + units <= limits.maxUnits) return;
  throw new BusinessRuleError(
    'Too much is held for orders awaiting payment: pay or cancel one of them, or send the payment details with the order',
    {
      heldOrders: held.orders,
      heldUnits: held.units,
      units,
      maxOrders: limits.maxOrders,
      maxUnits: limits.maxUnits,
    },
    'UNPAID_HOLD_LIMIT',
  );
}
