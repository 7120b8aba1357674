import { canonicalId } from '@ecom/common/ids';
import type { ChargedPrice, OrderLine, PricedLine } from './types';

/**
 * True when a stock change takes the product from "enough" to "low" (available under the
 * threshold), so the alert fires once per crossing, not on every sale while low.
 */
export function becameLow(
  before: { available: number; lowStockThreshold: number },
  after: { available: number; lowStockThreshold: number },
): boolean {
  const wasLow = before.available < before.lowStockThreshold;
  const isLow = after.available < after.lowStockThreshold;
  return isLow && !wasLow;
}

/**
 * One line per product (quantities added up), in the order products first appear. Ids are
 * compared in their canonical spelling: two spellings of one product are one line, so no line
 * can pass as "already held" by another.
 */
export function mergeLines(items: OrderLine[]): OrderLine[] {
  const merged = new Map<string, number>();
  for (const item of items) {
    const productId = canonicalId(item.productId);
    merged.set(productId, (merged.get(productId) ?? 0) + item.quantity);
  }
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }));
}

/**
 * The price each product's lines charge, by canonical id (the first line's, when an order names
 * a product twice: order prices every line of a product from one quote).
 */
export function chargedPrices(items: PricedLine[]): Map<string, ChargedPrice> {
  const prices = new Map<string, ChargedPrice>();
  for (const item of items) {
    const productId = canonicalId(item.productId);
    if (item.unitPrice === undefined || prices.has(productId)) continue;
    prices.set(productId, {
      cents: item.unitPrice,
      ...(item.currency !== undefined ? { currency: item.currency } : {}),
    });
  }
  return prices;
}

/**
 * The units of a sale that go back to stock when its order is cancelled: each sold line up to
 * what the event names for its product (the lines not shipped; a partly shipped order ended by
 * a full refund names fewer than were sold). A product the sale does not hold adds nothing.
 */
export function unitsToRestock(sold: OrderLine[], named: OrderLine[]): OrderLine[] {
  const left = new Map<string, number>();
  for (const line of named) {
    const productId = canonicalId(line.productId);
    left.set(productId, (left.get(productId) ?? 0) + line.quantity);
  }
  const back: OrderLine[] = [];
  for (const line of sold) {
    const productId = canonicalId(line.productId);
    const quantity = Math.min(line.quantity, left.get(productId) ?? 0);
    if (quantity <= 0) continue;
    left.set(productId, (left.get(productId) ?? 0) - quantity);
    back.push({ productId: line.productId, quantity });
  }
  return back;
}
