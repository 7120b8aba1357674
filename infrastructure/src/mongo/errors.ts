import type { Document } from 'bson';

/** MongoDB server error codes the stand-in answers with (names as MongoDB spells them). */
export const ErrorCodes = {
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NamespaceExists: 48,
  DollarPrefixedFieldName: 52,
  InvalidIdField: 53,
  ConversionFailure: 241,
  EmptyFieldName: 56,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  WriteConflict: 112,
  DocumentValidationFailure: 121,
  ViewDepthLimitExceeded: 149,
  GraphContainsCycle: 150,
  CommandNotSupportedOnView: 166,
  OptionNotSupportedOnView: 167,
  InvalidPipelineOperator: 168,
  InvalidIndexSpecificationOption: 197,
  IncompatibleCollationVersion: 174,
  QueryFeatureNotAllowed: 224,
  TransactionTooOld: 225,
  NoSuchTransaction: 251,
  OperationNotSupportedInTransaction: 263,
  DuplicateKey: 11000,
  BSONObjectTooLarge: 10334,
  MergeStageNoMatchingDocument: 13113,
  Location17276: 17276,
  Location31254: 31254,
  Location40324: 40324,
  Location40352: 40352,
  IDLFailedToParse: 40414,
  IDLUnknownField: 40415,
  Location40602: 40602,
  Location51132: 51132,
  Location51183: 51183,
  Location51246: 51246,
} as const;

/** A named code, or mongod's `Location<N>` for an assertion without a name. */
export type ErrorCodeName = keyof typeof ErrorCodes | `Location${number}`;

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
    this.code = codeName.startsWith('Location')
      ? Number(codeName.slice('Location'.length))
      : ErrorCodes[codeName as keyof typeof ErrorCodes];
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
  // mingo's errors that have a MongoDB counterpart are answered as mongod words them.
  if (message.startsWith('Use of undefined variable:'))
    return { ok: 0, errmsg: message, code: 17276, codeName: 'Location17276' };
  const unknownOperator = /^unknown query operator (\$\w+)/.exec(message);
  if (unknownOperator)
    return {
      ok: 0,
      errmsg: `unknown operator: ${unknownOperator[1]}`,
      code: ErrorCodes.BadValue,
      codeName: 'BadValue',
    };
  return { ok: 0, errmsg: message, code: ErrorCodes.BadValue, codeName: 'BadValue' };
}
