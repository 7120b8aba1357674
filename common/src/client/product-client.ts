import Joi from 'joi';
import { DependencyUnavailableError, GatewayTimeoutError } from '../errors/app-error';
import { moneySchema, type Money } from '../http/conventions';
import { createServiceClient, type ServiceClient } from './service-client';

/** What other services rely on from the product service's `GET /api/products/:id`. */
export interface ProductSummary {
  id: string;
  name: string;
  sellerId: string;
  price: Money;
  /** Units free to reserve now, when product says (its answer may be cached for seconds). */
  available?: number;
}

const summarySchema = Joi.object<ProductSummary & { inventory?: { available?: number } }>({
  id: Joi.string().max(128).required(),
  name: Joi.string().max(500).required(),
  sellerId: Joi.string().max(128).required(),
  price: moneySchema.required(),
  inventory: Joi.object({ available: Joi.number().integer().min(0) }).unknown(true),
}).unknown(true);

export interface ProductClient {
  /**
   * The product, or null when product has none (404, or 400 for an id it cannot read); a
   * DependencyUnavailableError (503) when product cannot answer or answers something unusable.
   */
  get(productId: string): Promise<ProductSummary | null>;
  /** Stops the health checks of the replicas (of a client this function made). */
  close(): void;
  /** The breaker of the calls (reported on /metrics). */
  readonly breaker?: ServiceClient['breaker'];
}

export const PRODUCT_SERVICE = 'product-service';

/**
 * The one client of the product service (order prices from it, comments checks reviews
 * against it): the common service client (timeout per attempt, one retry, breaker counting
 * only server-side failures) and one answer shape, validated.
 */
export function createProductClient(options: {
  /** One base URL, or one per replica. */
  baseUrl: string | readonly string[];
  timeoutMs?: number;
  client?: ServiceClient;
}): ProductClient {
  const client =
    options.client ??
    createServiceClient({
      name: PRODUCT_SERVICE,
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs ?? 2000,
      retries: 1,
      retryDelayMs: 50,
    });
  return {
    breaker: client.breaker,
    close() {
      if (!options.client) client.close();
    },
    async get(productId) {
      let response;
      try {
        response = await client.get<unknown>(`/api/products/${encodeURIComponent(productId)}`);
      } catch (err) {
        // A slow product is as unusable as a dead one for our callers: 503 either way.
        if (err instanceof GatewayTimeoutError) {
          throw new DependencyUnavailableError(PRODUCT_SERVICE, `${PRODUCT_SERVICE} timed out`, {
            reason: 'timeout',
          });
        }
        throw err;
      }
      if (response.status === 404 || response.status === 400) return null;
      if (response.status !== 200) {
        throw new DependencyUnavailableError(
          PRODUCT_SERVICE,
          `${PRODUCT_SERVICE} answered ${response.status}`,
          { productId, status: response.status },
        );
      }
      const { value, error } = summarySchema.validate(response.body);
      if (error) {
        throw new DependencyUnavailableError(
          PRODUCT_SERVICE,
          `${PRODUCT_SERVICE} answered an unusable product`,
          { productId },
        );
      }
      return {
        id: value.id,
        name: value.name,
        sellerId: value.sellerId,
        price: value.price,
        ...(value.inventory?.available !== undefined
          ? { available: value.inventory.available }
          : {}),
      };
    },
  };
}
