import { createProductClient, type ProductClient } from '@ecom/common/client';
import { BusinessRuleError } from '@ecom/common/errors';
import type { ProductQuote } from '../domain/pricing';

/** Prices for an order: what product says now about each line's product. */
export interface ProductCatalog {
  /** Quotes for every id; throws 422 naming an unknown product, 503 when product is down. */
  quote(productIds: string[]): Promise<Map<string, ProductQuote>>;
}

/** Reads prices from the product service through the common product client. */
export function createProductCatalog(
  baseUrl: string | readonly string[],
  options: { timeoutMs?: number; client?: ProductClient } = {},
): ProductCatalog {
  const products = options.client ?? createProductClient({ baseUrl, timeoutMs: options.timeoutMs });
  async function one(productId: string): Promise<ProductQuote> {
    const product = await products.get(productId);
    if (!product) {
      throw new BusinessRuleError(
        `Product ${productId} does not exist`,
        { productId },
        'UNKNOWN_PRODUCT',
      );
    }
    return {
      id: productId,
      name: product.name,
      priceCents: product.price.amount,
      currency: product.price.currency,
      sellerId: product.sellerId,
    };
  }
  return {
    async quote(productIds) {
      const quotes = await Promise.all(productIds.map(one));
      return new Map(quotes.map((q) => [q.id, q]));
    },
  };
}
