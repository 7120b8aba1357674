import type { OrderLine } from './types';

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

/** One line per product (quantities added up), in the order products first appear. */
export function mergeLines(items: OrderLine[]): OrderLine[] {
  const merged = new Map<string, number>();
  for (const item of items)
    merged.set(item.productId, (merged.get(item.productId) ?? 0) + item.quantity);
  return [...merged].map(([productId, quantity]) => ({ productId, quantity }));
}
