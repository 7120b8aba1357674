import type { Money, Order, OrderItem, ShippingAddress } from './types';

/**
 * What a seller sees of an order: their own lines (with their subtotal and each line's
 * fulfilment status), the order's status and where to ship. Other sellers' lines, the
 * customer's total, payment and refund details stay hidden.
 */
export interface SellerOrderView {
  id: string;
  status: Order['status'];
  items: OrderItem[];
  sellerTotal: Money;
  shippingAddress: ShippingAddress;
  createdAt: string;
  updatedAt: string;
}

export function sellerOrderView(order: Order, sellerId: string): SellerOrderView {
  const items = order.items.filter((i) => i.sellerId === sellerId);
  return {
    id: order.id,
    status: order.status,
    items,
    sellerTotal: {
      amount: items.reduce((sum, i) => sum + i.lineTotal.amount, 0),
      currency: order.total.currency,
    },
    shippingAddress: order.shippingAddress,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}
