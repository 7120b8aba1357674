import { AppError } from '@ecom/common/errors';
import {
  addLine,
  assertCheckoutable,
  cartCurrency,
  markSeen,
  mergeLines,
  priceCart,
  setQuantity,
  type CartLine,
  type LiveQuote,
} from '../src/domain/cart';

const limits = { maxLines: 2, maxQuantity: 5 };
const quote = (id: string, priceCents: number, available = 10, currency = 'USD'): LiveQuote => ({
  id,
  name: id.toUpperCase(),
  priceCents,
  currency,
  available,
});
const quotes = (...list: LiveQuote[]) => new Map(list.map((q) => [q.id, q]));

/** The error a rule throws: its status, code and details. */
function refusal(fn: () => unknown): { status: number; code: string; details: unknown } {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError)
      return { status: err.status, code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('cart lines', () => {
  it('adds a product, grows a line already there, and refuses past the limits', () => {
    let lines: CartLine[] = addLine([], 'a', 2, limits);
    lines = addLine(lines, 'a', 3, limits);
    expect(lines).toEqual([{ productId: 'a', quantity: 5, seenUnitPriceCents: null }]);
    expect(refusal(() => addLine(lines, 'a', 1, limits))).toMatchObject({
      status: 422,
      code: 'QUANTITY_LIMIT',
    });
    lines = addLine(lines, 'b', 1, limits);
    expect(refusal(() => addLine(lines, 'c', 1, limits))).toMatchObject({
      status: 422,
      code: 'CART_FULL',
    });
  });

  it('sets a quantity, removes a line at 0, and answers 404 for a product not in the cart', () => {
    const lines = addLine(addLine([], 'a', 2, limits), 'b', 1, limits);
    expect(setQuantity(lines, 'a', 4, limits).find((l) => l.productId === 'a')?.quantity).toBe(4);
    expect(setQuantity(lines, 'a', 0, limits).map((l) => l.productId)).toEqual(['b']);
    expect(refusal(() => setQuantity(lines, 'z', 1, limits)).status).toBe(404);
    expect(refusal(() => setQuantity(lines, 'a', 6, limits)).code).toBe('QUANTITY_LIMIT');
  });

  it('merges an anonymous cart: quantities add up to the cap, extra products are named', () => {
    const mine = addLine([], 'a', 4, limits);
    const anonymous = addLine(addLine(addLine([], 'a', 3, limits), 'b', 2, limits), 'c', 1, {
      ...limits,
      maxLines: 3,
    });
    expect(mergeLines(mine, anonymous, limits)).toEqual({
      lines: [
        { productId: 'a', quantity: 5, seenUnitPriceCents: null },
        { productId: 'b', quantity: 2, seenUnitPriceCents: null },
      ],
      leftOut: ['c'],
    });
  });
});

describe('cart currency', () => {
  const lines = addLine(addLine([], 'a', 1), 'b', 1);

  it("is the one stored with the cart, whatever its lines' products are priced in now", () => {
    const moved = quotes(quote('a', 100, 10, 'EUR'), quote('b', 100));
    expect(cartCurrency('USD', lines, moved)).toBe('USD');
    expect(cartCurrency('USD', [], moved)).toBeNull();
  });

  it("of a cart stored without one, is its first line still sold's (none sold: none yet)", () => {
    expect(cartCurrency(null, lines, quotes(quote('a', 100, 10, 'EUR'), quote('b', 100)))).toBe(
      'EUR',
    );
    expect(cartCurrency(null, lines, new Map([['b', quote('b', 100)]]))).toBe('USD');
    expect(cartCurrency(null, lines)).toBeNull();
  });
});

describe('cart prices', () => {
  it('totals at live prices in integer cents, with stock and products gone shown apart', () => {
    const lines = addLine(addLine(addLine([], 'a', 3), 'b', 2), 'gone', 1);
    const priced = priceCart(lines, quotes(quote('a', 1999), quote('b', 250, 1)));
    expect(priced.total).toEqual({ amount: 3 * 1999 + 2 * 250, currency: 'USD' });
    expect(priced.lines.map((l) => [l.productId, l.inStock, l.lineTotal.amount])).toEqual([
      ['a', true, 5997],
      ['b', false, 500],
    ]);
    expect(priced.unavailable).toEqual(['gone']);
    expect(priceCart([], quotes()).total).toBeNull();
  });

  it('refuses a cart priced in two currencies', () => {
    const lines = addLine(addLine([], 'a', 1), 'b', 1);
    expect(
      refusal(() => priceCart(lines, quotes(quote('a', 100), quote('b', 100, 5, 'EUR')))).code,
    ).toBe('MIXED_CURRENCY');
  });

  it('lets a cart out at the prices it showed; a changed price is a 409 with the new total, once', () => {
    const lines = addLine([], 'a', 2);
    const shown = markSeen(lines, priceCart(lines, quotes(quote('a', 1000))));
    expect(() => assertCheckoutable(priceCart(shown, quotes(quote('a', 1000))))).not.toThrow();

    const raised = priceCart(shown, quotes(quote('a', 1200)));
    const conflict = refusal(() => assertCheckoutable(raised));
    expect(conflict).toMatchObject({
      status: 409,
      details: {
        reason: 'PRICE_CHANGED',
        total: { amount: 2400, currency: 'USD' },
        changed: [
          {
            productId: 'a',
            previousUnitPrice: { amount: 1000, currency: 'USD' },
            unitPrice: { amount: 1200, currency: 'USD' },
          },
        ],
      },
    });
    // Once the customer has been shown the new price, the same checkout goes ahead.
    const reseen = markSeen(shown, raised);
    expect(() => assertCheckoutable(priceCart(reseen, quotes(quote('a', 1200))))).not.toThrow();
  });

  it('refuses an empty cart (422) and a cart with a product no longer sold (409)', () => {
    expect(refusal(() => assertCheckoutable(priceCart([], quotes()))).code).toBe('CART_EMPTY');
    const lines = addLine([], 'gone', 1);
    expect(refusal(() => assertCheckoutable(priceCart(lines, quotes())))).toMatchObject({
      status: 409,
      details: { reason: 'PRODUCT_UNAVAILABLE', productIds: ['gone'] },
    });
  });

  it('refuses a cart asking more units than product has free (409 OUT_OF_STOCK, with the figures)', () => {
    const lines = addLine(addLine([], 'a', 3), 'b', 1);
    const priced = priceCart(lines, quotes(quote('a', 100, 2), quote('b', 100, 1)));
    expect(priced.lines.map((l) => l.inStock)).toEqual([false, true]);
    expect(refusal(() => assertCheckoutable(priced))).toMatchObject({
      status: 409,
      details: { reason: 'OUT_OF_STOCK', lines: [{ productId: 'a', requested: 3, available: 2 }] },
    });
  });
});
