import { canonicalJson } from '@ecom/blockchain/src/verification';
import type { Check } from './types';

/** The order as GET /api/orders/:id answers it (the fields the anchored state covers). */
export interface LiveOrder {
  id: string;
  userId: string;
  status: string;
  total: { amount: number; currency: string };
  refunded: { amount: number; currency: string };
  paymentMethod: string | null;
  paymentId: string | null;
  failureReason: string | null;
  reservationExpiresAt: string | null;
  createdAt: string;
  shippingAddress: Record<string, unknown>;
  items: {
    lineNo: number;
    productId: string;
    name: string;
    quantity: number;
    unitPrice: { amount: number };
    lineTotal: { amount: number };
  }[];
}

const same = (a: unknown, b: unknown): boolean => {
  try {
    return canonicalJson(a ?? null) === canonicalJson(b ?? null);
  } catch {
    return false;
  }
};

const show = (v: unknown): string => {
  try {
    return canonicalJson(v ?? null);
  } catch {
    return String(v);
  }
};

/**
 * Step 5 of docs/verification.md: the record as the API shows it now must be the newest anchored
 * entry's `state`. A database edit that wrote no entry shows here, field by field.
 */
export function compareLiveOrder(state: Record<string, unknown> | null, order: LiveOrder): Check {
  const name = 'the order now';
  const basis = 'compared with the API' as const;
  if (!state) return { name, status: 'fail', detail: 'no anchored entry describes it', basis };
  const items = (state.items as Record<string, unknown>[] | undefined) ?? [];
  const address = (state.shippingAddress as Record<string, unknown> | null) ?? {};
  const pairs: [string, unknown, unknown][] = [
    ['id', state.orderId, order.id],
    ['owner', state.userId, order.userId],
    ['status', state.status, order.status],
    ['total', state.total, order.total?.amount],
    ['currency', state.currency, order.total?.currency],
    ['refunded', state.refunded, order.refunded?.amount],
    ['payment method', state.paymentMethod, order.paymentMethod],
    ['payment', state.paymentId, order.paymentId],
    ['failure reason', state.failureReason, order.failureReason],
    ['placed at', state.createdAt, order.createdAt],
    ['line count', items.length, order.items?.length],
    // Only the address fields the entry holds: the API may add empty ones.
    ...Object.keys(address).map((k): [string, unknown, unknown] => [
      `address ${k}`,
      address[k],
      order.shippingAddress?.[k],
    ]),
    ...items.flatMap((it, i): [string, unknown, unknown][] => {
      const live = order.items?.[i];
      const line = `line ${String(it.lineNo)}`;
      return [
        [`${line} product`, it.productId, live?.productId],
        [`${line} name`, it.name, live?.name],
        [`${line} quantity`, it.quantity, live?.quantity],
        [`${line} unit price`, it.unitPrice, live?.unitPrice?.amount],
        [`${line} total`, it.lineTotal, live?.lineTotal?.amount],
      ];
    }),
  ];
  const differ = pairs.filter(([, anchored, now]) => !same(anchored, now));
  if (!differ.length) {
    return {
      name,
      status: 'pass',
      detail: `the order the API shows is its newest anchored entry (${pairs.length} fields)`,
      basis,
    };
  }
  return {
    name,
    status: 'fail',
    detail:
      'the order changed without an anchored entry: ' +
      differ.map(([f, a, n]) => `${f} is ${show(n)}, anchored ${show(a)}`).join('; '),
    basis,
  };
}
