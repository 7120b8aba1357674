import type { Document } from 'bson';
import { parseCollation, type Collation } from '../collation';
import type { Collection } from '../collection';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';

// Reading and checking the arguments every command shares.

export function collectionName(cmd: Document, field: string): string {
  const name = cmd[field];
  if (typeof name !== 'string' || name.length === 0) {
    throw new MongoCommandError(
      'InvalidNamespace',
      `collection name has invalid type ${typeof name}`,
    );
  }
  return name;
}

export function asDocument(v: unknown, what: string): Document {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v))
    throw new MongoCommandError('FailedToParse', `'${what}' must be a document`);
  return v;
}

export function nonNegative(v: unknown, what: string): number {
  const n = Number(v ?? 0);
  if (!Number.isFinite(n) || n < 0)
    throw new MongoCommandError(
      'BadValue',
      `${what} value must be non-negative, but received: ${String(v)}`,
    );
  return n;
}

export function batchSizeOf(cursor: unknown): number | undefined {
  return isPlainObject(cursor) && cursor.batchSize !== undefined
    ? Number(cursor.batchSize)
    : undefined;
}

/**
 * The collation a command runs with: its own `collation` (`{ locale: 'simple' }` too), else
 * the collection's default; undefined means simple binary comparison.
 */
export function collationFor(raw: unknown, coll: Collection | undefined): Collation | undefined {
  if (raw !== undefined && raw !== null) return parseCollation(raw);
  return coll?.defaultCollation;
}
