import Joi from 'joi';
import {
  AppError,
  BusinessRuleError,
  DependencyUnavailableError,
  createServiceClient,
  type ServiceClient,
} from '@ecom/common';
import type { ProductQuote } from './domain/pricing';

export interface ProductCatalog {
  /** Quotes for every id; throws 422 naming an unknown product, 503 when product is down. */
  quote(productIds: string[]): Promise<Map<string, ProductQuote>>;
}

// What we rely on from GET /api/products/:id; everything else the product answers is ignored.
const productSchema = Joi.object({
  id: Joi.string().max(128),
  _id: Joi.string().max(128),
  name: Joi.string().max(500).required(),
  priceCents: Joi.number().integer().min(0).max(Number.MAX_SAFE_INTEGER),
  price: Joi.alternatives(
    Joi.number().min(0),
    Joi.object({ amount: Joi.number().integer().min(0).required() }).unknown(true),
  ),
  currency: Joi.string()
    .length(3)
    .uppercase()
    .pattern(/^[A-Z]{3}$/),
  sellerId: Joi.string().max(128).allow(null),
  isActive: Joi.boolean(),
  status: Joi.string().max(50),
})
  .or('priceCents', 'price')
  .unknown(true);

interface ProductBody {
  id?: string;
  _id?: string;
  name: string;
  priceCents?: number;
  price?: number | { amount: number; currency?: string };
  currency?: string;
  sellerId?: string | null;
  isActive?: boolean;
  status?: string;
}

/** Cents without float arithmetic: priceCents if given, else the price's decimal string. */
function centsOf(body: ProductBody): number | undefined {
  if (body.priceCents !== undefined) return body.priceCents;
  if (typeof body.price === 'object') return body.price.amount;
  if (typeof body.price === 'number') {
    const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(body.price));
    if (!match) return undefined;
    return Number(match[1]) * 100 + Number((match[2] ?? '').padEnd(2, '0'));
  }
  return undefined;
}

export function productQuoteFrom(productId: string, raw: unknown): ProductQuote {
  const { value, error } = productSchema.validate(raw);
  const body = value as ProductBody;
  const priceCents = error ? undefined : centsOf(body);
  const currency =
    body?.currency ??
    (typeof body?.price === 'object' && typeof body.price.currency === 'string'
      ? body.price.currency
      : 'USD');
  if (error || priceCents === undefined || !Number.isSafeInteger(priceCents)) {
    throw new DependencyUnavailableError(
      'product-service',
      'product service answered an unusable product',
      {
        productId,
      },
    );
  }
  if (body.isActive === false || (body.status && !['active', 'ACTIVE'].includes(body.status))) {
    throw new BusinessRuleError(
      `Product ${productId} is not available`,
      { productId },
      'PRODUCT_UNAVAILABLE',
    );
  }
  return {
    id: productId,
    name: body.name,
    priceCents,
    currency,
    ...(body.sellerId ? { sellerId: body.sellerId } : {}),
  };
}

/** Reads prices from the product service through the common client (timeouts, retries, breaker). */
export function createProductCatalog(
  baseUrl: string,
  options: { timeoutMs?: number; client?: ServiceClient } = {},
): ProductCatalog {
  const client =
    options.client ??
    createServiceClient({
      name: 'product-service',
      baseUrl,
      timeoutMs: options.timeoutMs ?? 2000,
      retries: 1,
    });
  async function one(productId: string): Promise<ProductQuote> {
    let response;
    try {
      response = await client.get<unknown>(`/api/products/${encodeURIComponent(productId)}`);
    } catch (err) {
      // A slow product is as unusable as a dead one for placing an order: 503 either way.
      if (err instanceof AppError && err.status === 504) {
        throw new DependencyUnavailableError('product-service', 'product service timed out');
      }
      throw err;
    }
    if (response.status === 404 || response.status === 400) {
      throw new BusinessRuleError(
        `Product ${productId} does not exist`,
        { productId },
        'UNKNOWN_PRODUCT',
      );
    }
    if (response.status !== 200) {
      throw new DependencyUnavailableError('product-service', 'product service refused the read', {
        productId,
        status: response.status,
      });
    }
    return productQuoteFrom(productId, response.body);
  }
  return {
    async quote(productIds) {
      const quotes = await Promise.all(productIds.map(one));
      return new Map(quotes.map((q) => [q.id, q]));
    },
  };
}
