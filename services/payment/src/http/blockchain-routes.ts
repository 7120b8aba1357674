import type { Router } from 'express';
import {
  NotFoundError,
  anchoringRoutes,
  type Anchoring,
  type JwtVerifyOptions,
  type ServiceClient,
} from '@ecom/common';
import type { Payments } from '../payments';

/**
 * GET /api/blockchain/payment/:paymentId (owner or admin), /verify/:transactionHash (the
 * gateway sends every verify here: payment's own batches, else the order service is asked with
 * the caller's Authorization) and /status (admin). 503 when anchoring is off.
 */
export function paymentBlockchainRoutes(deps: {
  anchoring: Anchoring | null;
  payments: Payments;
  /** The order service, which answers the same verify route for its own batches. */
  orderService: ServiceClient;
  jwt: JwtVerifyOptions;
}): Router {
  return anchoringRoutes({
    anchoring: deps.anchoring,
    jwt: deps.jwt,
    service: 'payment',
    recordType: 'payment',
    assertVisible: (user, paymentId) => deps.payments.getVisible(user, { id: paymentId }),
    ownersOf: (ids) => deps.payments.ownersOf(ids),
    // Not one of ours: the order service anchors its own batches from its own key.
    onUnknownTx: async (req, res, txHash) => {
      const upstream = await deps.orderService.get(`/api/blockchain/verify/${txHash}`, {
        authorization: req.get('authorization') ?? '',
      });
      if (upstream.status === 404) throw new NotFoundError(`No anchor in transaction ${txHash}`);
      res.status(upstream.status).json(upstream.body);
    },
  });
}
