import type { Router } from 'express';
import { anchoringRoutes, type Anchoring, type JwtVerifyOptions } from '@ecom/common';
import type { Orders } from '../orders';

/**
 * GET /api/blockchain/order/:orderId (owner or admin), /verify/:transactionHash (this service's
 * batches; records the caller owns, all for an admin) and /status (admin). 503 when anchoring
 * is off (no BLOCKCHAIN_RPC_URL).
 */
export function orderBlockchainRoutes(deps: {
  anchoring: Anchoring | null;
  orders: Orders;
  jwt: JwtVerifyOptions;
}): Router {
  return anchoringRoutes({
    anchoring: deps.anchoring,
    jwt: deps.jwt,
    service: 'order',
    recordType: 'order',
    assertVisible: (user, orderId) => deps.orders.getVisible(user, orderId),
    ownersOf: (ids) => deps.orders.ownersOf(ids),
  });
}
