import { createProductClient, type ProductClient } from '@ecom/common/client';
import type { LiveQuote } from '../domain/cart';
import { unknownProduct, type ProductQuote } from '../domain/pricing';

/** What product says now about the products of an order or a cart. */
export interface ProductCatalog {
  /** Quotes for every id; throws 422 naming an unknown product, 503 when product is down. */
  quote(productIds: string[]): Promise<Map<string, ProductQuote>>;
  /**
   * Quotes and free units for the ids product still sells; an unknown (or deleted) product is
   * simply absent, so a cart can show it apart. 503 when product is down.
   */
  live(productIds: string[]): Promise<Map<string, LiveQuote>>;
}

/** Reads prices from the product service through the common product client. */
export function createProductCatalog(
  baseUrl: string | readonly string[],
  options: { timeoutMs?: number; client?: ProductClient } = {},
): ProductCatalog {
  const products = options.client ?? createProductClient({ baseUrl, timeoutMs: options.timeoutMs });
  async function one(productId: string): Promise<LiveQuote | null> {
    const product = await products.get(productId);
    if (!product) return null;
    return {
      id: productId,
      name: product.name,
      priceCents: product.price.amount,
      currency: product.price.currency,
      sellerId: product.sellerId,
      // An answer without stock figures: nothing is promised free (the saga reserves anyway).
      available: product.available ?? 0,
    };
  }
  const live = async (productIds: string[]) => {
    const quotes = await Promise.all(productIds.map(one));
    return new Map(quotes.filter((q) => q !== null).map((q) => [q.id, q]));
  };
  return {
    live,
    async quote(productIds) {
      const quotes = await live(productIds);
      const unknown = productIds.find((id) => !quotes.has(id));
      if (unknown !== undefined) throw unknownProduct(unknown);
      return quotes;
    },
  };
}
