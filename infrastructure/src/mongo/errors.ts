import type { Document } from 'bson';

/** MongoDB server error codes the stand-in answers with (names as MongoDB spells them). */
export const ErrorCodes = {
  BadValue: 2,
  FailedToParse: 9,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  WriteConflict: 112,
  TransactionTooOld: 225,
  NoSuchTransaction: 251,
  OperationNotSupportedInTransaction: 263,
  DuplicateKey: 11000,
  BSONObjectTooLarge: 10334,
  Location40352: 40352,
} as const;

export type ErrorCodeName = keyof typeof ErrorCodes;

/** The label that makes drivers retry a whole transaction (`withTransaction`). */
export const TRANSIENT_TRANSACTION_ERROR = 'TransientTransactionError';

/** An error answered to the client as `{ ok: 0, code, codeName, errmsg, ...extra }`. */
export class MongoCommandError extends Error {
  readonly code: number;
  readonly codeName: string;

  constructor(
    codeName: ErrorCodeName,
    message: string,
    readonly extra: Document = {},
  ) {
    super(message);
    this.code = ErrorCodes[codeName];
    this.codeName = codeName;
  }

  toReply(): Document {
    return { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
  }
}

/** Anything thrown by mingo or our own code becomes a reply, never a crash or a hang. */
/** What mongod answers when a transaction writes a document another one has changed first. */
export function writeConflict(detail: string): MongoCommandError {
  return new MongoCommandError(
    'WriteConflict',
    `Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction. (${detail})`,
    { errorLabels: [TRANSIENT_TRANSACTION_ERROR] },
  );
}

export function errorReply(err: unknown): Document {
  if (err instanceof MongoCommandError) return err.toReply();
  const message = err instanceof Error ? err.message : String(err);
  return { ok: 0, errmsg: message, code: ErrorCodes.BadValue, codeName: 'BadValue' };
}
