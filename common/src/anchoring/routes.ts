import { Router, type NextFunction, type Request, type Response } from 'express';
import Joi from 'joi';
import { authenticate, requireRole } from '../auth/middleware';
import type { AuthUser, JwtVerifyOptions } from '../auth';
import { AppError, NotFoundError, UnauthorizedError } from '../errors/app-error';
import { validate } from '../http/validate';
import type { Anchoring } from './anchoring';

const txParams = Joi.object({
  transactionHash: Joi.string()
    .pattern(/^0x[0-9a-fA-F]{64}$/)
    .required()
    .messages({ 'string.pattern.base': 'must be 0x followed by 64 hex digits' }),
});

export interface AnchoringRoutesOptions {
  /** null when anchoring is off: every route answers 503 ANCHORING_NOT_CONFIGURED. */
  anchoring: Anchoring | null;
  jwt: JwtVerifyOptions;
  /** The service name in messages and in the verify/status bodies ('order'). */
  service: string;
  /** The anchored record type: GET /<recordType>/:<recordType>Id lists its anchors. */
  recordType: string;
  /** Throws (404/403 AppError) when the caller may not see the record. */
  assertVisible: (user: AuthUser, recordId: string) => Promise<unknown>;
  /** Owner user id of each record id, to show a non-admin only their records of a batch. */
  ownersOf: (recordIds: string[]) => Promise<Map<string, string | null>>;
  /**
   * Answers a verify of a transaction holding no anchor of this service (e.g. asks another
   * service); without it the answer is 404.
   */
  onUnknownTx?: (req: Request, res: Response, txHash: string) => Promise<void>;
}

function userOf(req: Request): AuthUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

/**
 * GET /<recordType>/:<recordType>Id (owner or admin), /verify/:transactionHash (this service's
 * batches; records the caller owns, all for an admin) and /status (admin), all authenticated.
 * 503 when anchoring is off (no BLOCKCHAIN_RPC_URL).
 */
export function anchoringRoutes(options: AnchoringRoutesOptions): Router {
  const { service, recordType } = options;
  const idParam = `${recordType}Id`;
  const recordParams = Joi.object({ [idParam]: Joi.string().guid().required() });
  const router = Router();
  router.use(authenticate(options.jwt));
  router.use((_req: Request, _res: Response, next: NextFunction) => {
    if (!options.anchoring) {
      throw new AppError(
        503,
        'ANCHORING_NOT_CONFIGURED',
        `Blockchain anchoring is not configured on the ${service} service (no BLOCKCHAIN_RPC_URL)`,
      );
    }
    next();
  });
  const anchoring = () => options.anchoring as Anchoring;

  router.get(`/${recordType}/:${idParam}`, validate({ params: recordParams }), async (req, res) => {
    const recordId = String(req.params[idParam]);
    await options.assertVisible(userOf(req), recordId);
    res.json({ [idParam]: recordId, records: await anchoring().recordsFor(recordType, recordId) });
  });

  router.get('/verify/:transactionHash', validate({ params: txParams }), async (req, res) => {
    const user = userOf(req);
    const txHash = String(req.params.transactionHash);
    const view = await anchoring().recordsInTx(txHash);
    if (!view) {
      if (options.onUnknownTx) return options.onUnknownTx(req, res, txHash);
      throw new NotFoundError(`No anchor of the ${service} service in transaction ${txHash}`);
    }
    let records = view.records;
    if (user.role !== 'admin') {
      const owners = await options.ownersOf([...new Set(records.map((r) => r.recordId))]);
      records = records.filter((r) => owners.get(r.recordId) === user.id);
      // Someone else's batch: not found, as for someone else's record.
      if (!records.length) throw new NotFoundError(`No record of yours in transaction ${txHash}`);
    }
    res.json({
      service,
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
    res.json({ service, ...(await anchoring().health()) });
  });

  return router;
}
