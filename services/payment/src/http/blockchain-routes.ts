import { Router, type NextFunction, type Request, type Response } from 'express';
import Joi from 'joi';
import {
  AppError,
  NotFoundError,
  UnauthorizedError,
  authenticate,
  requireRole,
  validate,
  type Anchoring,
  type AuthUser,
  type JwtVerifyOptions,
  type ServiceClient,
} from '@ecom/common';
import type { Payments } from '../payments';

const paymentParams = Joi.object({ paymentId: Joi.string().guid().required() });
const txParams = Joi.object({
  transactionHash: Joi.string()
    .pattern(/^0x[0-9a-fA-F]{64}$/)
    .required()
    .messages({ 'string.pattern.base': 'must be 0x followed by 64 hex digits' }),
});

function userOf(req: Request): AuthUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

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
  const router = Router();
  router.use(authenticate(deps.jwt));
  router.use((_req: Request, _res: Response, next: NextFunction) => {
    if (!deps.anchoring) {
      throw new AppError(
        503,
        'ANCHORING_NOT_CONFIGURED',
        'Blockchain anchoring is not configured on the payment service (no BLOCKCHAIN_RPC_URL)',
      );
    }
    next();
  });
  const anchoring = () => deps.anchoring as Anchoring;

  router.get('/payment/:paymentId', validate({ params: paymentParams }), async (req, res) => {
    const paymentId = String(req.params.paymentId);
    await deps.payments.getVisible(userOf(req), { id: paymentId });
    res.json({ paymentId, records: await anchoring().recordsFor('payment', paymentId) });
  });

  router.get('/verify/:transactionHash', validate({ params: txParams }), async (req, res) => {
    const user = userOf(req);
    const txHash = String(req.params.transactionHash);
    const view = await anchoring().recordsInTx(txHash);
    if (!view) {
      // Not one of ours: the order service anchors its own batches from its own key.
      const upstream = await deps.orderService.get(`/api/blockchain/verify/${txHash}`, {
        authorization: req.get('authorization') ?? '',
      });
      if (upstream.status === 404) throw new NotFoundError(`No anchor in transaction ${txHash}`);
      res.status(upstream.status).json(upstream.body);
      return;
    }
    let records = view.records;
    if (user.role !== 'admin') {
      const owners = await deps.payments.ownersOf([...new Set(records.map((r) => r.recordId))]);
      records = records.filter((r) => owners.get(r.recordId) === user.id);
      // Someone else's batch: not found, as for someone else's payment.
      if (!records.length) throw new NotFoundError(`No record of yours in transaction ${txHash}`);
    }
    res.json({
      service: 'payment',
      txHash: view.txHash,
      batchId: view.batchId,
      root: view.root,
      blockNumber: view.blockNumber,
      chainId: view.records[0]?.receipt.chainId ?? null,
      contractAddress: view.records[0]?.receipt.contractAddress ?? null,
      recordCount: view.recordCount,
      records,
    });
  });

  router.get('/status', requireRole('admin'), async (_req, res) => {
    res.json({ service: 'payment', ...(await anchoring().health()) });
  });

  return router;
}
