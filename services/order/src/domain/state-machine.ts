/**
 * The order state machine (pure: no I/O). Every change of an order's status goes through
 * one of these named transitions; the store turns the `from` list into the guard of its
 * UPDATE (`WHERE status = ANY(from)`), so a late or redelivered event cannot move an order
 * backwards or twice.
 */
export const ORDER_STATUSES = [
  'PENDING',
  'AWAITING_PAYMENT',
  'PAYMENT_PROCESSING',
  'CONFIRMED',
  'PARTIALLY_SHIPPED',
  'SHIPPED',
  'DELIVERED',
  'FAILED',
  'CANCELLED',
] as const;

export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface TransitionRule {
  from: readonly OrderStatus[];
  to: OrderStatus;
}

const OPEN: readonly OrderStatus[] = ['PENDING', 'AWAITING_PAYMENT', 'PAYMENT_PROCESSING'];

export const TRANSITIONS = {
  /** inventory.reserved for an order that came with payment details: payment charges now. */
  reservedWithPayment: { from: ['PENDING'], to: 'PAYMENT_PROCESSING' },
  /** inventory.reserved for an order without payment details: the customer pays later. */
  reservedAwaitingPayment: { from: ['PENDING'], to: 'AWAITING_PAYMENT' },
  /** payment.initiated (payment only charges reserved orders, so PENDING is a reordering). */
  paymentStarted: { from: ['PENDING', 'AWAITING_PAYMENT'], to: 'PAYMENT_PROCESSING' },
  /** payment.failed with retryable=true: the customer may try another card. */
  paymentDeclinedRetryable: { from: ['PAYMENT_PROCESSING'], to: 'AWAITING_PAYMENT' },
  /** payment.completed. */
  confirm: { from: OPEN, to: 'CONFIRMED' },
  /** inventory.rejected or payment.failed with retryable=false. */
  fail: { from: OPEN, to: 'FAILED' },
  /** A customer or an admin cancels (before shipping). */
  cancel: { from: [...OPEN, 'CONFIRMED'], to: 'CANCELLED' },
  /** The reservation of an order waiting for payment ran out. */
  expire: { from: ['AWAITING_PAYMENT'], to: 'CANCELLED' },
  /**
   * payment.refunded of everything paid: the order ends short of being all shipped, so nothing
   * more is shipped for money given back. Before shipping as a cancel; a PARTIALLY_SHIPPED
   * order too: its lines not shipped never will be (docs/adr/0054). A SHIPPED one keeps its
   * course.
   */
  refundedInFull: { from: [...OPEN, 'CONFIRMED', 'PARTIALLY_SHIPPED'], to: 'CANCELLED' },
  /**
   * The order's status follows its lines (domain/fulfilment.ts): some line shipped, not all
   * (a seller shipped their part of a multi-seller order). No longer cancellable.
   */
  shipPart: { from: ['CONFIRMED'], to: 'PARTIALLY_SHIPPED' },
  /** Every line shipped (by its sellers, or an admin for the whole order). */
  ship: { from: ['CONFIRMED', 'PARTIALLY_SHIPPED'], to: 'SHIPPED' },
  /** Every line delivered. */
  deliver: { from: ['SHIPPED'], to: 'DELIVERED' },
} as const satisfies Record<string, TransitionRule>;

export type TransitionName = keyof typeof TRANSITIONS;

export type Decision =
  | { ok: true; from: OrderStatus; to: OrderStatus }
  | { ok: false; from: OrderStatus; to: OrderStatus; reason: string };

/** Whether `name` may be applied to an order currently in `current`. */
export function decide(name: TransitionName, current: OrderStatus): Decision {
  const rule: TransitionRule = TRANSITIONS[name];
  if (rule.from.includes(current)) return { ok: true, from: current, to: rule.to };
  return {
    ok: false,
    from: current,
    to: rule.to,
    reason: `${name}: cannot go from ${current} to ${rule.to}`,
  };
}

/** Every status reachable from `from` in one step (for docs, tests and the status endpoint). */
export function nextStatuses(from: OrderStatus): OrderStatus[] {
  const out = new Set<OrderStatus>();
  for (const rule of Object.values(TRANSITIONS) as TransitionRule[]) {
    if (rule.from.includes(from)) out.add(rule.to);
  }
  return [...out];
}

export function isTerminal(status: OrderStatus): boolean {
  return nextStatuses(status).length === 0;
}

/**
 * Statuses requested through PUT /api/orders/:id/status, and the transition each stands for when
 * an admin moves the whole order (a seller moves their own lines: domain/fulfilment.ts).
 */
export const MANUAL_STATUS_TRANSITIONS: Record<string, TransitionName> = {
  SHIPPED: 'ship',
  DELIVERED: 'deliver',
};

/** Before shipping: what PUT /api/orders/:id/cancel accepts. */
export function isCancellable(status: OrderStatus): boolean {
  return decide('cancel', status).ok;
}
