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
