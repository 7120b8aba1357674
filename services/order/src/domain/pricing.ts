import { BusinessRuleError } from '@ecom/common/errors';

/** What the product service told us about one product (already validated). */
export interface ProductQuote {
  id: string;
  name: string;
  priceCents: number;
  currency: string;
  sellerId?: string;
}

export interface RequestedItem {
  productId: string;
  quantity: number;
}

export interface PricedLine {
  lineNo: number;
  productId: string;
  name: string;
  sellerId: string | null;
  quantity: number;
  unitPriceCents: number;
  lineTotalCents: number;
}

export interface PricedOrder {
  lines: PricedLine[];
  totalCents: number;
  currency: string;
}

/** 422 UNKNOWN_PRODUCT: product sells nothing under this id (never sold, or deleted). */
export const unknownProduct = (productId: string) =>
  new BusinessRuleError(`Product ${productId} does not exist`, { productId }, 'UNKNOWN_PRODUCT');

/**
 * One currency per order or cart: the first priced line's. A quote in another currency is
 * refused (422 MIXED_CURRENCY); otherwise the currency is returned.
 */
export function oneCurrency(
  current: string | undefined,
  quote: ProductQuote,
  of: 'order' | 'cart',
): string {
  if (current && quote.currency !== current) {
    throw new BusinessRuleError(
      `All items of ${of === 'order' ? 'an order' : 'a cart'} must be priced in one currency`,
      { productId: quote.id, currency: quote.currency, [`${of}Currency`]: current },
      'MIXED_CURRENCY',
    );
  }
  return quote.currency;
}

/**
 * Prices every line from the quotes (a snapshot: later price changes do not touch the order).
 * Integer cents only; one currency per order; the total stays a safe integer.
 */
export function priceOrder(items: RequestedItem[], quotes: Map<string, ProductQuote>): PricedOrder {
  const lines: PricedLine[] = [];
  let currency: string | undefined;
  let totalCents = 0;
  items.forEach((item, index) => {
    const quote = quotes.get(item.productId);
    if (!quote) throw unknownProduct(item.productId);
    currency = oneCurrency(currency, quote, 'order');
    const lineTotalCents = quote.priceCents * item.quantity;
    totalCents += lineTotalCents;
    lines.push({
      lineNo: index + 1,
      productId: item.productId,
      name: quote.name,
      sellerId: quote.sellerId ?? null,
      quantity: item.quantity,
      unitPriceCents: quote.priceCents,
      lineTotalCents,
    });
  });
  if (!currency) throw new BusinessRuleError('An order needs at least one item');
  if (!Number.isSafeInteger(totalCents)) {
    throw new BusinessRuleError('Order total is too large', undefined, 'TOTAL_TOO_LARGE');
  }
  return { lines, totalCents, currency };
}
