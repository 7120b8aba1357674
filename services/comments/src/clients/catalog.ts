import { createProductClient, type ProductClient } from '@ecom/common/client';

/**
 * Whether a product exists, before a comment is written for it: the product service is the
 * authority. Throws DependencyUnavailableError (503) when it cannot tell.
 */
export interface ProductCatalog {
  exists(productId: string): Promise<boolean>;
}

/** Asks the product service through common's product client (timeouts, retry, breaker). */
export function createProductCatalog(
  baseUrl: string | readonly string[],
  options: { timeoutMs?: number; client?: ProductClient } = {},
): ProductCatalog {
  const products = options.client ?? createProductClient({ baseUrl, timeoutMs: options.timeoutMs });
  return {
    async exists(productId) {
      return (await products.get(productId)) !== null;
    },
  };
}
