import {
  createServiceClient,
  DependencyUnavailableError,
  GatewayTimeoutError,
  type ServiceClient,
} from '@ecom/common';

/** Answers whether a product exists; throws DependencyUnavailableError (503) when it cannot tell. */
export interface ProductCatalog {
  exists(productId: string): Promise<boolean>;
}

export const PRODUCT_SERVICE = 'product-service';

/**
 * Asks the product service (`GET /api/products/:id`) through the common client: per-attempt
 * timeout, bounded retries, a breaker that only counts server-side failures. 200 → exists,
 * 404 (or 400 for an id it cannot parse) → does not; anything else, or no answer → 503.
 */
export function createHttpProductCatalog(options: {
  baseUrl: string;
  timeoutMs: number;
  client?: ServiceClient;
}): ProductCatalog {
  const client =
    options.client ??
    createServiceClient({
      name: PRODUCT_SERVICE,
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs,
      retries: 1,
      retryDelayMs: 50,
    });
  return {
    async exists(productId) {
      let status: number;
      try {
        ({ status } = await client.get(`/api/products/${encodeURIComponent(productId)}`));
      } catch (err) {
        // A timeout is the product service being unavailable, as far as our callers go.
        if (err instanceof GatewayTimeoutError) {
          throw new DependencyUnavailableError(PRODUCT_SERVICE, `${PRODUCT_SERVICE} timed out`, {
            reason: 'timeout',
          });
        }
        throw err;
      }
      if (status >= 200 && status < 300) return true;
      if (status === 404 || status === 400) return false;
      throw new DependencyUnavailableError(
        PRODUCT_SERVICE,
        `${PRODUCT_SERVICE} answered ${status}`,
        {
          status,
        },
      );
    },
  };
}
