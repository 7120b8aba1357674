import { createServiceClient, type ServiceClient } from '@ecom/common/client';
import { AppError, NotFoundError } from '@ecom/common/errors';

/**
 * The order service's answer to GET /api/blockchain/verify/:tx. The gateway sends every verify
 * to payment; a transaction that is not one of payment's batches may be one of order's (each
 * service anchors its own batches from its own key).
 */
export interface OrderAnchors {
  /**
   * Order's view of the transaction, asked with the caller's Authorization (order applies its
   * own access rules). 404 when order has no anchor there either; order's refusals keep their
   * status; 503 when order cannot be reached.
   */
  verifyTransaction(txHash: string, authorization: string | undefined): Promise<unknown>;
}

/** The common client (timeout, retries, breaker, replicas) on the order service. */
export function createOrderClient(baseUrl: string | readonly string[]): ServiceClient {
  return createServiceClient({ name: 'order-service', baseUrl });
}

export function createOrderAnchors(
  baseUrl: string | readonly string[],
  options: { client?: ServiceClient } = {},
): OrderAnchors {
  const client = options.client ?? createOrderClient(baseUrl);
  return {
    async verifyTransaction(txHash, authorization) {
      const upstream = await client.get<unknown>(`/api/blockchain/verify/${txHash}`, {
        authorization: authorization ?? '',
      });
      if (upstream.status === 200) return upstream.body;
      if (upstream.status === 404) throw new NotFoundError(`No anchor in transaction ${txHash}`);
      const error = (
        upstream.body as { error?: { code?: string; message?: string; details?: unknown } }
      )?.error;
      throw new AppError(
        upstream.status,
        error?.code ?? 'UPSTREAM_REFUSED',
        error?.message ?? `The order service answered ${upstream.status}`,
        error?.details,
      );
    },
  };
}
