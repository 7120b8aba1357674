import { priceOrder, type ProductQuote } from '../src/domain/pricing';

const quotes = (list: ProductQuote[]) => new Map(list.map((q) => [q.id, q]));

describe('pricing', () => {
  it('prices lines in integer cents and sums the total', () => {
    const priced = priceOrder(
      [
        { productId: 'a', quantity: 3 },
        { productId: 'b', quantity: 1 },
      ],
      quotes([
        { id: 'a', name: 'A', priceCents: 1999, currency: 'USD', sellerId: 's1' },
        { id: 'b', name: 'B', priceCents: 10, currency: 'USD' },
      ]),
    );
    expect(priced).toEqual({
      currency: 'USD',
      totalCents: 6007,
      lines: [
        {
          lineNo: 1,
          productId: 'a',
          name: 'A',
          sellerId: 's1',
          quantity: 3,
          unitPriceCents: 1999,
          lineTotalCents: 5997,
        },
        {
          lineNo: 2,
          productId: 'b',
          name: 'B',
          sellerId: null,
          quantity: 1,
          unitPriceCents: 10,
          lineTotalCents: 10,
        },
      ],
    });
  });

  it('names an unknown product and refuses mixed currencies or unsafe totals', () => {
    expect(() => priceOrder([{ productId: 'x', quantity: 1 }], quotes([]))).toThrow(
      /Product x does not exist/,
    );
    expect(() =>
      priceOrder(
        [
          { productId: 'a', quantity: 1 },
          { productId: 'b', quantity: 1 },
        ],
        quotes([
          { id: 'a', name: 'A', priceCents: 1, currency: 'USD' },
          { id: 'b', name: 'B', priceCents: 1, currency: 'EUR' },
        ]),
      ),
    ).toThrow(/one currency/);
    expect(() =>
      priceOrder(
        [{ productId: 'a', quantity: 1000 }],
        quotes([{ id: 'a', name: 'A', priceCents: Number.MAX_SAFE_INTEGER, currency: 'USD' }]),
      ),
    ).toThrow(/too large/);
  });
});
