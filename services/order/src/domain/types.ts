import type { Address } from '@ecom/common/http';
import type { FulfilmentStatus } from './fulfilment';
import type { OrderStatus } from './state-machine';

export interface Money {
  amount: number;
  currency: string;
}

/** The platform's one address shape, with its recipient (common/http/conventions). */
export type ShippingAddress = Address & { name: string };

export interface OrderItem {
  /** The line's number in its order (1, 2, ...), as the anchored record names it. */
  lineNo: number;
  productId: string;
  name: string;
  sellerId: string | null;
  quantity: number;
  unitPrice: Money;
  lineTotal: Money;
  /** Where this line is (domain/fulfilment.ts): its seller ships and delivers it. */
  fulfilmentStatus: FulfilmentStatus;
  /**
   * When the line was shipped / delivered (null before, and for lines of orders shipped before
   * fulfilment was kept per line).
   */
  shippedAt: string | null;
  deliveredAt: string | null;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderItem[];
  total: Money;
  refunded: Money;
  paymentMethod: string | null;
  paymentId: string | null;
  shippingAddress: ShippingAddress;
  failureReason: string | null;
  correlationId: string;
  reservationExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** Why a transition happened: the event that caused it, the HTTP request, or a timer. */
export type Cause =
  | { type: 'event'; eventId: string; eventType: string }
  | { type: 'request'; requestId: string; userId: string }
  | { type: 'system'; name: string };

export interface HistoryEntry {
  from: OrderStatus | null;
  to: OrderStatus;
  at: string;
  reason: string | null;
  cause: Cause;
}
