import { decide, type OrderStatus, type TransitionName } from './state-machine';

/**
 * Fulfilment per seller (docs/adr/0013), pure: each line of an order has its own fulfilment
 * status; a seller moves the lines of their own products, an admin every line, and the order's
 * status follows its lines (followLines).
 */
export const FULFILMENT_STATUSES = ['UNFULFILLED', 'SHIPPED', 'DELIVERED'] as const;

export type FulfilmentStatus = (typeof FULFILMENT_STATUSES)[number];

/** What a line stores: nothing until it is acted on, then the status it was moved to. */
export type StoredFulfilment = 'SHIPPED' | 'DELIVERED' | null;

/**
 * A line's fulfilment status. A line with none stored is UNFULFILLED, unless its order was
 * shipped or delivered before fulfilment was kept per line (migration 008 stores nothing for
 * those lines, so their anchored records stay as they were): such a line is where its order is.
 * Since then every shipment and delivery stores the status of each line it moves.
 */
export function lineFulfilment(
  stored: StoredFulfilment,
  orderStatus: OrderStatus,
): FulfilmentStatus {
  if (stored) return stored;
  return orderStatus === 'SHIPPED' || orderStatus === 'DELIVERED' ? orderStatus : 'UNFULFILLED';
}

/**
 * The lines not shipped: those whose stock a cancellation gives back (every line of an order
 * cancelled before shipping; of one ended by a full refund while PARTIALLY_SHIPPED, the lines
 * that never left).
 */
export function unshipped<T extends { fulfilmentStatus: FulfilmentStatus }>(
  items: readonly T[],
): T[] {
  return items.filter((i) => i.fulfilmentStatus === 'UNFULFILLED');
}

/** What a request may move lines to (PUT /api/orders/:id/status). */
export type LineTarget = 'SHIPPED' | 'DELIVERED';

/**
 * Each step a line can take: the line status it leaves, and the order statuses in which it may
 * be taken (a line ships once the order is paid and until every line has; it is delivered once
 * shipped). A closed order (CANCELLED, FAILED, DELIVERED) moves no line.
 */
export const LINE_STEPS = {
  SHIPPED: { from: 'UNFULFILLED', orderIn: ['CONFIRMED', 'PARTIALLY_SHIPPED'] },
  DELIVERED: { from: 'SHIPPED', orderIn: ['PARTIALLY_SHIPPED', 'SHIPPED'] },
} as const satisfies Record<
  LineTarget,
  { from: FulfilmentStatus; orderIn: readonly OrderStatus[] }
>;

const RANK: Record<FulfilmentStatus, number> = { UNFULFILLED: 0, SHIPPED: 1, DELIVERED: 2 };

/** How far a group of lines (a seller's part of an order) is: as far as its slowest line. */
export function leastAdvanced(statuses: readonly FulfilmentStatus[]): FulfilmentStatus {
  return statuses.reduce<FulfilmentStatus>(
    (least, s) => (RANK[s] < RANK[least] ? s : least),
    'DELIVERED',
  );
}

/**
 * The transitions, in order, that bring an order in `current` to where its lines are: some but
 * not every line shipped → PARTIALLY_SHIPPED, every line shipped → SHIPPED, every line delivered
 * → DELIVERED. Only what the state machine allows from the order's status is returned (empty
 * when the order is where its lines are), so the order never moves backwards, twice, or out of
 * a closed status, and an order-level event follows only an order-level change.
 */
export function followLines(
  current: OrderStatus,
  lines: readonly FulfilmentStatus[],
): TransitionName[] {
  const out: TransitionName[] = [];
  if (lines.length === 0) return out;
  let status = current;
  const step = (name: TransitionName) => {
    const decision = decide(name, status);
    if (!decision.ok) return;
    out.push(name);
    status = decision.to;
  };
  const shipped = lines.filter((l) => l !== 'UNFULFILLED').length;
  if (shipped === lines.length) step('ship');
  else if (shipped > 0) step('shipPart');
  if (lines.every((l) => l === 'DELIVERED')) step('deliver');
  return out;
}
