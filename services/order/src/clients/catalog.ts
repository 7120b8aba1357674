import { LRUCache } from 'lru-cache';
import { createProductClient, type ProductClient } from '@ecom/common/client';
import type { LiveQuote } from '../domain/cart';
import { unknownProduct, type ProductQuote } from '../domain/pricing';

/** What product says now about the products of an order or a cart. */
export interface ProductCatalog {
  /**
   * Quotes for every id, from a short-lived cache of what product said (product checks each
   * line's price again when it reserves the stock); throws 422 naming an unknown product, 503
   * when product is down and a quote is not cached.
   */
  quote(productIds: string[]): Promise<Map<string, ProductQuote>>;
  /**
   * Quotes and free units for the ids product still sells, asked now; an unknown (or deleted)
   * product is simply absent, so a cart can show it apart. 503 when product is down.
   */
  live(productIds: string[]): Promise<Map<string, LiveQuote>>;
  /** Drops a product's cached quote: product said it changed, or refused an order's price. */
  forget(productId: string): void;
}

export interface ProductCatalogOptions {
  timeoutMs?: number;
  client?: ProductClient;
  /** How long a quote is reused for orders. Default 10 s; 0 asks product for every order. */
  quoteTtlMs?: number;
  /** Products whose quotes are kept at most (the least recently used go first). Default 10 000. */
  quoteMaxEntries?: number;
}

/** Reads prices from the product service through the common product client. */
export function createProductCatalog(
  baseUrl: string | readonly string[],
  options: ProductCatalogOptions = {},
): ProductCatalog {
  const products = options.client ?? createProductClient({ baseUrl, timeoutMs: options.timeoutMs });
  const ttl = options.quoteTtlMs ?? 10_000;
  // Only quotes of products that exist: an unknown id is asked again every time, so a product
  // created a moment later is found.
  const quotes =
    ttl > 0
      ? new LRUCache<string, ProductQuote>({ max: options.quoteMaxEntries ?? 10_000, ttl })
      : undefined;
  // Forgets per product: an answer asked for before a forget may predate the change it is
  // about, so it serves that one order but is not kept.
  const forgets = new Map<string, number>();

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
    const found = await Promise.all(productIds.map(one));
    return new Map(found.filter((q) => q !== null).map((q) => [q.id, q]));
  };
  return {
    live,
    async quote(productIds) {
      const answer = new Map<string, ProductQuote>();
      const missing: string[] = [];
      for (const id of productIds) {
        const cached = quotes?.get(id);
        if (cached) answer.set(id, cached);
        else missing.push(id);
      }
      if (missing.length === 0) return answer;
      const asked = new Map(missing.map((id) => [id, forgets.get(id) ?? 0]));
      const fresh = await live(missing);
      for (const id of missing) {
        const found = fresh.get(id);
        if (!found) throw unknownProduct(id);
        const { available: _free, ...quote } = found;
        if ((forgets.get(id) ?? 0) === asked.get(id)) quotes?.set(id, quote);
        answer.set(id, quote);
      }
      return answer;
    },
    forget(productId) {
      if (!quotes) return;
      quotes.delete(productId);
      forgets.set(productId, (forgets.get(productId) ?? 0) + 1);
    },
  };
}
