import type { Request } from 'express';
import Joi from 'joi';
import type { AuthUser } from '../../auth/types';
import { AppError, NotFoundError, UnauthorizedError } from '../../errors/app-error';
import type { OperationSpec } from '../../http/api';
import { uuidSchema } from '../../ids';
import { cursorPage, cursorQueryKeys, type CursorQuery } from '../../http/conventions';
import type { Reply } from '../../http/reply';
import type { Anchoring } from '../anchoring';

/**
 * The blockchain routes of an anchoring service, as API operations plus their handlers.
 * GET /api/blockchain/<recordType>/:<recordType>Id (owner or admin: the record's entries and
 * the verdict), /verify/:transactionHash (this service's batches; records the caller owns, all
 * for an admin), the public log (/api/blockchain/<recordType>/log, /log/info, /log/promises:
 * anyone, no personal data) and /status (admin, on the service's port only).
 * 503 ANCHORING_NOT_CONFIGURED when anchoring is off.
 * Loads no ethers: only types come from the anchoring module.
 */

const txParams = Joi.object({
  transactionHash: Joi.string()
    .pattern(/^0x[0-9a-fA-F]{64}$/)
    .required()
    .messages({ 'string.pattern.base': '{{#label}} must be 0x followed by 64 hex digits' }),
});

const hex32 = Joi.string().pattern(/^0x[0-9a-f]{64}$/);
const statusSchema = Joi.string().valid('PENDING', 'ANCHORED', 'VERIFIED', 'TAMPERED');

export const anchorPromiseSchema = Joi.object({
  type: Joi.string().valid('ecom.anchor-promise'),
  version: Joi.number().integer(),
  chainId: Joi.number().integer(),
  signer: Joi.string().description("the service's anchorer address"),
  recordType: Joi.string(),
  recordId: Joi.string(),
  recordKey: hex32,
  sequence: Joi.number().integer().min(1),
  leaf: hex32,
  deadline: Joi.number().integer().description('Unix seconds: anchored by then'),
  signature: Joi.string(),
})
  .label('AnchorPromise')
  .description(
    "Signed at write time with the service's anchoring key: this entry's leaf will be in the " +
      'public log at this record key and sequence by the deadline (docs/verification.md §4)',
  );

/** A promise in the public log: no record id (a record key stands for it, §3). */
export const publishedPromiseSchema = anchorPromiseSchema
  .keys({ recordId: Joi.forbidden() })
  .label('PublishedAnchorPromise');

export const anchorRecordSchema = Joi.object({
  recordType: Joi.string(),
  recordId: Joi.string(),
  sourceId: Joi.string(),
  status: statusSchema,
  reason: Joi.string().description('why tampered, only anchored, or late'),
  anchoredAt: Joi.string().isoDate().allow(null),
  receipt: Joi.object()
    .unknown(true)
    .description(
      'Everything needed to check the entry against the chain: sequence, canonical, salt, leaf ' +
        '(recomputed), recordKey, proof, batchId, onChainBatchId, root, previousRoot, chainId, ' +
        'contractAddress, txHash, blockNumber, blockHash, blockTimestamp, verifyCall { to, data } ' +
        '(built from the recomputed leaf), serializationVersion, promise',
    ),
}).label('AnchorEntry');

const publishedBatchSchema = Joi.object({
  seq: Joi.number().integer(),
  batchId: Joi.string(),
  onChainBatchId: hex32,
  root: hex32,
  previousRoot: hex32,
  recordCount: Joi.number().integer(),
  status: Joi.string().valid('pending', 'sent', 'confirmed', 'superseded'),
  chainId: Joi.number().integer().allow(null),
  contractAddress: Joi.string().allow(null),
  txHash: Joi.string().allow(null),
  blockNumber: Joi.number().integer().allow(null),
  leaves: Joi.array().items(
    Joi.object({
      leaf: hex32,
      recordKey: hex32.allow(null),
      sequence: Joi.number().integer().allow(null),
    }),
  ),
}).label('PublishedBatch');

const logInfoSchema = Joi.object({
  service: Joi.string(),
  recordType: Joi.string(),
  anchorer: Joi.string().description('the only address whose anchors and promises are ours'),
  chainId: Joi.number().integer(),
  contractAddress: Joi.string().allow(null),
  leafDomain: Joi.string(),
  serializationVersion: Joi.number().integer(),
  promiseDomain: Joi.string(),
}).label('AnchorLogInfo');

const txSchema = Joi.object({
  service: Joi.string(),
  txHash: Joi.string(),
  batchId: Joi.string(),
  root: Joi.string(),
  blockNumber: Joi.number().integer().allow(null),
  chainId: Joi.number().integer().allow(null),
  contractAddress: Joi.string().allow(null),
  recordCount: Joi.number()
    .integer()
    .description("the batch's full size (records: the caller's own)"),
  records: Joi.array().items(anchorRecordSchema),
}).label('AnchorTransaction');

/** The operation ids for a record type: orderAnchors, orderAnchorLog..., orderAnchoringStatus. */
export type AnchoringOperationId<R extends string> =
  | `${R}AnchorLogInfo`
  | `${R}AnchorLog`
  | `${R}AnchorPromises`
  | `${R}Anchors`
  | `${R}VerifyTransaction`
  | `${R}AnchoringStatus`;

export interface AnchoringOperationsOptions<R extends string> {
  recordType: R;
  /** Whether the gateway sends /api/blockchain/verify here (else it is this service's own). */
  servesVerify: boolean;
}

export function anchoringOperations<R extends string>({
  recordType,
  servesVerify,
}: AnchoringOperationsOptions<R>): Record<AnchoringOperationId<R>, OperationSpec> {
  const idParam = `${recordType}Id`;
  const notConfigured = 'Anchoring not configured (ANCHORING_NOT_CONFIGURED)';
  const tag = 'Blockchain';
  const log = `/api/blockchain/${recordType}/log`;
  // The log routes come first: Express tries routes in order, and 'log' is no record id.
  return {
    [`${recordType}AnchorLogInfo`]: {
      method: 'get',
      path: `${log}/info`,
      summary: `Who signs the ${recordType} log, where it is anchored, and its formats`,
      tag,
      access: 'public',
      response: { status: 200, description: 'The log', schema: logInfoSchema },
      errors: { 503: notConfigured },
    },
    [`${recordType}AnchorLog`]: {
      method: 'get',
      path: log,
      summary: `The public ${recordType} log: each batch with its leaves, record keys and sequences, oldest first`,
      description:
        'No personal data: a leaf is a salted hash, a record key a hash of the record id. A ' +
        'monitor replays it against the chain (docs/verification.md §3, §6).',
      tag,
      access: 'public',
      query: Joi.object(cursorQueryKeys),
      response: {
        status: 200,
        description: 'Batches, by `seq`',
        schema: publishedBatchSchema,
        list: 'cursor',
      },
      errors: { 503: notConfigured },
    },
    [`${recordType}AnchorPromises`]: {
      method: 'get',
      path: `${log}/promises`,
      summary: `Every promise the ${recordType} service signed at write time, oldest first`,
      tag,
      access: 'public',
      description:
        'A page reads `limit` entries of the log by position; an entry written before promises ' +
        'existed has none, so a page may hold fewer. Read on with `after=next` while `hasMore`.',
      query: Joi.object(cursorQueryKeys),
      response: {
        status: 200,
        description: 'Promises, by the position of their entry, without record ids',
        schema: publishedPromiseSchema,
        list: 'cursor',
      },
      errors: { 503: notConfigured },
    },
    [`${recordType}Anchors`]: {
      method: 'get',
      path: `/api/blockchain/${recordType}/:${idParam}`,
      summary: `The entries of one ${recordType}'s hash chain, every check recomputed, and the verdict`,
      description:
        'TAMPERED with the reasons when any entry, the chain between them, the public log or ' +
        'the live rows do not match; PENDING while an entry waits for its batch (its signed ' +
        'promise stands); ANCHORED when the chain could not be asked; VERIFIED otherwise.',
      tag,
      access: 'user',
      // Any letter case, kept in lower case: the record's anchored entries are keyed by it.
      params: Joi.object({ [idParam]: uuidSchema.required() }),
      response: {
        status: 200,
        description: 'The record',
        schema: Joi.object({
          [idParam]: Joi.string(),
          status: statusSchema,
          reasons: Joi.array().items(Joi.string()),
          records: Joi.array().items(anchorRecordSchema),
        }),
      },
      errors: { 503: notConfigured },
    },
    [`${recordType}VerifyTransaction`]: {
      method: 'get',
      path: '/api/blockchain/verify/:transactionHash',
      summary:
        'What a transaction anchored, and whether each record still matches; non-admins see only their own records',
      tag,
      access: 'user',
      params: txParams,
      response: { status: 200, description: 'The batch and its records', schema: txSchema },
      errors: { 404: 'No anchor (of yours) in this transaction', 503: notConfigured },
      internal: !servesVerify,
    },
    [`${recordType}AnchoringStatus`]: {
      method: 'get',
      path: '/api/blockchain/status',
      summary:
        "The anchoring worker's state (on the service's port; the gateway does not route it)",
      tag,
      access: ['admin'],
      response: { status: 200, description: 'Status', schema: Joi.object().unknown(true) },
      internal: true,
    },
  } satisfies Record<string, OperationSpec> as Record<AnchoringOperationId<R>, OperationSpec>;
}

export interface AnchoringHandlersOptions<R extends string> {
  /** null when anchoring is off: every route answers 503 ANCHORING_NOT_CONFIGURED. */
  anchoring: Anchoring | null;
  /** The service name in messages and in the verify/status bodies ('order'). */
  service: string;
  recordType: R;
  /** Throws (404/403 AppError) when the caller may not see the record. */
  assertVisible: (user: AuthUser, recordId: string) => Promise<unknown>;
  /** Owner user id of each record id, to show a non-admin only their records of a batch. */
  ownersOf: (recordIds: string[]) => Promise<Map<string, string | null>>;
  /** Answers a verify of a transaction with no anchor of this service (e.g. asks another). */
  onUnknownTx?: (req: Request, txHash: string) => Promise<Reply | object>;
}

function userOf(req: Request): AuthUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

export function anchoringHandlers<R extends string>(
  options: AnchoringHandlersOptions<R>,
): Record<AnchoringOperationId<R>, (req: Request) => Promise<Reply | object>> {
  const { service, recordType } = options;
  const idParam = `${recordType}Id`;
  const anchoring = (): Anchoring => {
    if (!options.anchoring) {
      throw new AppError(
        503,
        'ANCHORING_NOT_CONFIGURED',
        `Blockchain anchoring is not configured on the ${service} service (no BLOCKCHAIN_RPC_URL)`,
      );
    }
    return options.anchoring;
  };
  const cursorOf = (req: Request) => req.query as unknown as CursorQuery;
  return {
    [`${recordType}AnchorLogInfo`]: async () => ({ service, ...anchoring().logInfo(recordType) }),
    [`${recordType}AnchorLog`]: async (req: Request) => {
      const q = cursorOf(req);
      return cursorPage(await anchoring().publishedLog(q), q);
    },
    [`${recordType}AnchorPromises`]: async (req: Request) => {
      const q = cursorOf(req);
      return cursorPage(await anchoring().publishedPromises(q), q);
    },
    [`${recordType}Anchors`]: async (req: Request) => {
      const a = anchoring();
      const recordId = String(req.params[idParam]);
      await options.assertVisible(userOf(req), recordId);
      const verdict = await a.recordsFor(recordType, recordId);
      return {
        [idParam]: recordId,
        status: verdict.status,
        reasons: verdict.reasons,
        records: verdict.entries,
      };
    },
    [`${recordType}VerifyTransaction`]: async (req: Request): Promise<Reply | object> => {
      const a = anchoring();
      const user = userOf(req);
      const txHash = String(req.params.transactionHash);
      // A customer's records only, chosen before anything is verified.
      const mine =
        user.role === 'admin'
          ? undefined
          : async (ids: string[]) => {
              const owners = await options.ownersOf(ids);
              return new Set(ids.filter((id) => owners.get(id) === user.id));
            };
      const view = await a.recordsInTx(txHash, mine);
      if (!view) {
        if (options.onUnknownTx) return options.onUnknownTx(req, txHash);
        throw new NotFoundError(`No anchor of the ${service} service in transaction ${txHash}`);
      }
      const records = view.records;
      if (user.role !== 'admin') {
        // Someone else's batch: not found, as for someone else's record.
        if (!records.length) throw new NotFoundError(`No record of yours in transaction ${txHash}`);
      }
      return {
        service,
        txHash: view.txHash,
        batchId: view.batchId,
        root: view.root,
        blockNumber: view.blockNumber,
        chainId: view.records[0]?.receipt.chainId ?? null,
        contractAddress: view.records[0]?.receipt.contractAddress ?? null,
        recordCount: view.recordCount,
        records,
      };
    },
    [`${recordType}AnchoringStatus`]: async () => ({ service, ...(await anchoring().health()) }),
  } as Record<AnchoringOperationId<R>, (req: Request) => Promise<Reply | object>>;
}
