import { createProductClient, type ProductClient } from '@ecom/common/client';

/**
 * The product a comment is written for, or null when it does not exist: the product service is
 * the authority. Throws DependencyUnavailableError (503) when it cannot tell.
 */
export interface ProductCatalog {
  find(productId: string): Promise<{ sellerId: string } | null>;
}

/** Asks the product service through common's product client (timeouts, retry, breaker). */
export function createProductCatalog(
  baseUrl: string | readonly string[],
  options: { timeoutMs?: number; client?: ProductClient } = {},
): ProductCatalog {
  const products = options.client ?? createProductClient({ baseUrl, timeoutMs: options.timeoutMs });
  return {
    async find(productId) {
      const product = await products.get(productId);
      return product && { sellerId: product.sellerId };
    },
  };
}
