import { BusinessRuleError, ConflictError, NotFoundError } from '@ecom/common/errors';
import { oneCurrency, type ProductQuote } from './pricing';

/**
 * A cart's rules, free of stores and HTTP: its lines, their limits, a merge, live totals and
 * the price check before checkout. A line remembers the unit price the customer was last shown
 * (`seenUnitPriceCents`): checkout goes ahead only at the prices the customer saw.
 */
export interface CartLine {
  productId: string;
  quantity: number;
  /** The unit price last shown for this line (cents), null until it was priced once. */
  seenUnitPriceCents: number | null;
}

/** What a cart holds: its lines and its one currency (null while it is empty). */
export interface CartContent {
  lines: CartLine[];
  currency: string | null;
}

export interface CartLimits {
  /** Distinct products in one cart. */
  maxLines: number;
  /** Units of one product in one cart. */
  maxQuantity: number;
}

export const DEFAULT_CART_LIMITS: CartLimits = { maxLines: 50, maxQuantity: 100 };

/** What product says now about a product: its quote and the units still free. */
export type LiveQuote = ProductQuote & { available: number };

export interface PricedCartLine {
  productId: string;
  name: string;
  quantity: number;
  unitPrice: { amount: number; currency: string };
  lineTotal: { amount: number; currency: string };
  available: number;
  /** Enough free units for this line now (checkout still reserves them through the saga). */
  inStock: boolean;
  /** The unit price changed since the customer last saw it: the previous price, in cents. */
  previousUnitPriceCents: number | null;
}

export interface PricedCart {
  lines: PricedCartLine[];
  /** Null for an empty cart. */
  total: { amount: number; currency: string } | null;
  /** Lines whose product is gone (deleted or unknown): shown apart, never checked out. */
  unavailable: string[];
}

/** Adds `quantity` units of a product (a line already there grows). */
export function addLine(
  lines: readonly CartLine[],
  productId: string,
  quantity: number,
  limits: CartLimits = DEFAULT_CART_LIMITS,
): CartLine[] {
  const existing = lines.find((l) => l.productId === productId);
  if (!existing && lines.length >= limits.maxLines) {
    throw new BusinessRuleError(
      `A cart holds at most ${limits.maxLines} products`,
      { maxLines: limits.maxLines },
      'CART_FULL',
    );
  }
  const total = (existing?.quantity ?? 0) + quantity;
  if (total > limits.maxQuantity) {
    throw new BusinessRuleError(
      `At most ${limits.maxQuantity} units of one product per cart`,
      { productId, maxQuantity: limits.maxQuantity, requested: total },
      'QUANTITY_LIMIT',
    );
  }
  return existing
    ? lines.map((l) => (l.productId === productId ? { ...l, quantity: total } : l))
    : [...lines, { productId, quantity, seenUnitPriceCents: null }];
}

/** Sets a line's quantity; 0 removes it. A product not in the cart is 404. */
export function setQuantity(
  lines: readonly CartLine[],
  productId: string,
  quantity: number,
  limits: CartLimits = DEFAULT_CART_LIMITS,
): CartLine[] {
  if (!lines.some((l) => l.productId === productId)) {
    throw new NotFoundError(`Product ${productId} is not in the cart`, { productId });
  }
  if (quantity === 0) return lines.filter((l) => l.productId !== productId);
  if (quantity > limits.maxQuantity) {
    throw new BusinessRuleError(
      `At most ${limits.maxQuantity} units of one product per cart`,
      { productId, maxQuantity: limits.maxQuantity, requested: quantity },
      'QUANTITY_LIMIT',
    );
  }
  return lines.map((l) => (l.productId === productId ? { ...l, quantity } : l));
}

/**
 * An anonymous cart merged into the customer's at login: quantities add up, capped at the
 * per-product limit; products beyond the cart's line limit are left out (and named), never an
 * error, so signing in always works.
 */
export function mergeLines(
  into: readonly CartLine[],
  from: readonly CartLine[],
  limits: CartLimits = DEFAULT_CART_LIMITS,
): { lines: CartLine[]; leftOut: string[] } {
  const lines = into.map((l) => ({ ...l }));
  const leftOut: string[] = [];
  for (const line of from) {
    const existing = lines.find((l) => l.productId === line.productId);
    if (existing) {
      existing.quantity = Math.min(limits.maxQuantity, existing.quantity + line.quantity);
    } else if (lines.length < limits.maxLines) {
      lines.push({ ...line, quantity: Math.min(limits.maxQuantity, line.quantity) });
    } else {
      leftOut.push(line.productId);
    }
  }
  return { lines, leftOut };
}

/**
 * A cart's one currency: the one stored with it, set by the first line added to the empty cart
 * and gone when it is empty again, so a seller moving one product to another currency sets that
 * line apart, never the rest of the cart. A cart stored before carts kept their currency (null,
 * with lines) takes its first line still sold's, the rule it was shown under until then; with
 * none sold it has none yet, and the next line added sets it.
 */
export function cartCurrency(
  stored: string | null,
  lines: readonly CartLine[],
  quotes: ReadonlyMap<string, { currency: string } | null> = new Map(),
): string | null {
  if (lines.length === 0) return null;
  if (stored) return stored;
  for (const line of lines) {
    const quote = quotes.get(line.productId);
    if (quote) return quote.currency;
  }
  return null;
}

/**
 * The cart at today's prices and stock. One currency per cart, as per order: a line in another
 * currency is refused where it is added, and a cart found mixed (a price moved to another
 * currency) cannot be totalled.
 */
export function priceCart(
  lines: readonly CartLine[],
  quotes: ReadonlyMap<string, LiveQuote>,
): PricedCart {
  const priced: PricedCartLine[] = [];
  const unavailable: string[] = [];
  let currency: string | undefined;
  let totalCents = 0;
  for (const line of lines) {
    const quote = quotes.get(line.productId);
    if (!quote) {
      unavailable.push(line.productId);
      continue;
    }
    currency = oneCurrency(currency, quote, 'cart');
    const lineTotalCents = quote.priceCents * line.quantity;
    totalCents += lineTotalCents;
    priced.push({
      productId: line.productId,
      name: quote.name,
      quantity: line.quantity,
      unitPrice: { amount: quote.priceCents, currency: quote.currency },
      lineTotal: { amount: lineTotalCents, currency: quote.currency },
      available: quote.available,
      inStock: quote.available >= line.quantity,
      previousUnitPriceCents:
        line.seenUnitPriceCents !== null && line.seenUnitPriceCents !== quote.priceCents
          ? line.seenUnitPriceCents
          : null,
    });
  }
  if (!Number.isSafeInteger(totalCents)) {
    throw new BusinessRuleError('Cart total is too large', undefined, 'TOTAL_TOO_LARGE');
  }
  return { lines: priced, total: currency ? { amount: totalCents, currency } : null, unavailable };
}

/** The lines with the prices just shown remembered: what the customer has now seen. */
export function markSeen(lines: readonly CartLine[], priced: PricedCart): CartLine[] {
  const shown = new Map(priced.lines.map((l) => [l.productId, l.unitPrice.amount]));
  return lines.map((l) => ({ ...l, seenUnitPriceCents: shown.get(l.productId) ?? null }));
}

/**
 * Checkout's gate: an empty cart, a product gone, a product short of stock or a price the
 * customer has not seen stops it with a clear answer. A price change is a 409 carrying the new lines and total; the caller
 * stores `markSeen` first, so the same checkout sent again goes ahead at the new prices.
 */
export function assertCheckoutable(priced: PricedCart): void {
  if (priced.unavailable.length > 0) {
    throw new ConflictError('Some products in the cart are no longer sold', {
      reason: 'PRODUCT_UNAVAILABLE',
      productIds: priced.unavailable,
    });
  }
  if (!priced.total) throw new BusinessRuleError('The cart is empty', undefined, 'CART_EMPTY');
  // Known short now: refused here rather than left to fail in the saga a moment later. (Stock
  // that looks enough may still be taken by another order first: the saga's reservation decides.)
  const short = priced.lines.filter((l) => !l.inStock);
  if (short.length > 0) {
    throw new ConflictError('Not enough stock for some products in the cart', {
      reason: 'OUT_OF_STOCK',
      lines: short.map((l) => ({
        productId: l.productId,
        requested: l.quantity,
        available: l.available,
      })),
    });
  }
  const changed = priced.lines.filter((l) => l.previousUnitPriceCents !== null);
  if (changed.length > 0) {
    throw new ConflictError('Prices changed since the cart was last shown', {
      reason: 'PRICE_CHANGED',
      changed: changed.map((l) => ({
        productId: l.productId,
        previousUnitPrice: { amount: l.previousUnitPriceCents, currency: l.unitPrice.currency },
        unitPrice: l.unitPrice,
      })),
      lines: priced.lines,
      total: priced.total,
    });
  }
}
