import { keccak256, toUtf8Bytes } from 'ethers';
import { canonicalJson, CanonicalizationError } from '../util/canonical-json';

export { canonicalJson, CanonicalizationError, type CanonicalValue } from '../util/canonical-json';

/**
 * Canonical serialisation, version 1 (the version is part of every leaf and receipt, so a
 * future change of these rules cannot make old receipts ambiguous):
 * - JSON with object keys sorted by UTF-16 code units, no whitespace;
 * - numbers must be safe integers (amounts are integer minor units or exact decimal strings);
 *   floats, NaN, ±Infinity and unsafe integers are rejected;
 * - bigint is written as a decimal string; Date as its ISO-8601 string (UTC, milliseconds);
 * - strings are hashed exactly as given (no Unicode normalisation);
 * - undefined, functions, symbols, Maps, Sets and other class instances are rejected.
 */
export const SERIALIZATION_VERSION = 1;

/** What a leaf commits to: the record's identity and its state, in canonical form. */
export interface AnchorDocument {
  recordType: string;
  recordId: string;
  sourceId: string;
  payload: unknown;
}

/** The canonical text of a record's document; receipts carry it so anyone can rehash it. */
export function canonicalDocument(doc: AnchorDocument, version = SERIALIZATION_VERSION): string {
  if (version !== SERIALIZATION_VERSION) {
    throw new CanonicalizationError(`unknown serialisation version ${version}`, '$');
  }
  return canonicalJson({
    v: version,
    recordType: doc.recordType,
    recordId: doc.recordId,
    sourceId: doc.sourceId,
    payload: doc.payload,
  });
}

export function documentHash(canonical: string): string {
  return keccak256(toUtf8Bytes(canonical));
}
