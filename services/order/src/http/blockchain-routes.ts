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
} from '@ecom/common';
import type { Orders } from '../orders';

const orderParams = Joi.object({ orderId: Joi.string().guid().required() });
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
 * GET /api/blockchain/order/:orderId (owner or admin), /verify/:transactionHash (this service's
 * batches; records the caller owns, all for an admin) and /status (admin). 503 when anchoring
 * is off (no BLOCKCHAIN_RPC_URL).
 */
export function orderBlockchainRoutes(deps: {
  anchoring: Anchoring | null;
  orders: Orders;
  jwt: JwtVerifyOptions;
}): Router {
  const router = Router();
  router.use(authenticate(deps.jwt));
  router.use((_req: Request, _res: Response, next: NextFunction) => {
    if (!deps.anchoring) {
      throw new AppError(
        503,
        'ANCHORING_NOT_CONFIGURED',
        'Blockchain anchoring is not configured on the order service (no BLOCKCHAIN_RPC_URL)',
      );
    }
    next();
  });
  const anchoring = () => deps.anchoring as Anchoring;

  router.get('/order/:orderId', validate({ params: orderParams }), async (req, res) => {
    const orderId = String(req.params.orderId);
    await deps.orders.getVisible(userOf(req), orderId);
    res.json({ orderId, records: await anchoring().recordsFor('order', orderId) });
  });

  router.get('/verify/:transactionHash', validate({ params: txParams }), async (req, res) => {
    const user = userOf(req);
    const txHash = String(req.params.transactionHash);
    const view = await anchoring().recordsInTx(txHash);
    if (!view) throw new NotFoundError(`No anchor of the order service in transaction ${txHash}`);
    let records = view.records;
    if (user.role !== 'admin') {
      const owners = await deps.orders.ownersOf([...new Set(records.map((r) => r.recordId))]);
      records = records.filter((r) => owners.get(r.recordId) === user.id);
      // Someone else's batch: not found, as for someone else's order.
      if (!records.length) throw new NotFoundError(`No record of yours in transaction ${txHash}`);
    }
    res.json({
      service: 'order',
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
    res.json({ service: 'order', ...(await anchoring().health()) });
  });

  return router;
}
