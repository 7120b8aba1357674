import { keccak256Utf8 } from './hashing';
import { canonicalJson, CanonicalizationError } from '../util/canonical-json';

export { canonicalJson, CanonicalizationError, type CanonicalValue } from '../util/canonical-json';

/**
 * Canonical serialisation (the version is part of every leaf and receipt, so a change of these
 * rules can never make an old receipt ambiguous; docs/verification.md §1):
 * - JSON with object keys sorted by UTF-16 code units, no whitespace;
 * - numbers must be safe integers (amounts are integer minor units or exact decimal strings);
 *   floats, NaN, ±Infinity and unsafe integers are rejected;
 * - bigint is written as a decimal string; Date as its ISO-8601 string (UTC, milliseconds);
 * - strings are hashed exactly as given (no Unicode normalisation);
 * - undefined, functions, symbols, Maps, Sets and other class instances are rejected.
 * Version 2 documents are entries of a record's hash chain; version 1 documents (one state
 * snapshot, no chain) are still read so receipts issued before stay verifiable.
 */
export const SERIALIZATION_VERSION = 2;

/** One change of a record, as version 2 anchors it. */
export interface EntryDocument {
  recordType: string;
  recordId: string;
  /** 1 for the record's creation, then +1 per change. */
  sequence: number;
  /** The leaf of entry `sequence - 1` (32 zero bytes for entry 1). */
  previousLeaf: string;
  /** The row holding this change (`history:17`, `attempt:1`, `refund:<id>`...). */
  sourceId: string;
  /** That row's content. */
  change: unknown;
  /** Every business field of the record after the change. */
  state: unknown;
  /**
   * The names of the `state` fields whose value differs from entry `sequence - 1`'s, sorted
   * (ADR 0058). Absent from entry 1 and from entries written before the rule.
   */
  fields?: string[];
}

/** A version 1 document: one snapshot, before records were chained. */
export interface LegacyDocument {
  recordType: string;
  recordId: string;
  sourceId: string;
  payload: unknown;
}

export type AnchorDocument = EntryDocument | LegacyDocument;

export const ZERO_LEAF = `0x${'0'.repeat(64)}`;

/** The canonical text of a document in its version; receipts carry it so anyone can rehash it. */
export function canonicalDocument(doc: AnchorDocument, version = SERIALIZATION_VERSION): string {
  if (version === 2 && 'sequence' in doc) {
    return canonicalJson({
      v: 2,
      recordType: doc.recordType,
      recordId: doc.recordId,
      sequence: doc.sequence,
      previousLeaf: doc.previousLeaf,
      sourceId: doc.sourceId,
      change: doc.change,
      state: doc.state,
      ...(doc.fields !== undefined ? { fields: doc.fields } : {}),
    });
  }
  if (version === 1 && 'payload' in doc) {
    return canonicalJson({
      v: 1,
      recordType: doc.recordType,
      recordId: doc.recordId,
      sourceId: doc.sourceId,
      payload: doc.payload,
    });
  }
  throw new CanonicalizationError(`no version ${version} document of this shape`, '$');
}

export function documentHash(canonical: string): string {
  return keccak256Utf8(canonical);
}

/**
 * Reads a stored canonical text back: its document, only if the text is the canonical form of
 * what it says (re-serialised byte for byte), so no other text can pass for it.
 */
export function parseCanonical(
  canonical: string,
): { version: number; doc: AnchorDocument } | { error: string } {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(canonical) as Record<string, unknown>;
  } catch {
    return { error: 'canonical text is not JSON' };
  }
  const version = parsed.v;
  const doc = parsed as unknown as AnchorDocument;
  try {
    if ((version !== 1 && version !== 2) || canonicalDocument(doc, version) !== canonical) {
      return { error: 'canonical text is not in canonical form' };
    }
  } catch (err) {
    return { error: `canonical text cannot be serialised: ${(err as Error).message}` };
  }
  return { version, doc };
}

/**
 * Stored canonical texts read back lately, with their documents (null: not one). A record's
 * chain is read again at each of its changes, so each entry would be parsed and re-serialised
 * once per later change; the texts are immutable, so the answer for a text never changes.
 * Bounded by count and by characters (the oldest goes first); a text too long to keep is
 * parsed every time, as before.
 */
const readBack = new Map<string, AnchorDocument | null>();
let readBackChars = 0;
const READ_BACK_TEXTS = 1024;
const READ_BACK_CHARS = 4 * 2 ** 20;
const READ_BACK_TEXT_CHARS = 64 * 2 ** 10;

/**
 * parseCanonical's document, or null for a text that is not one; remembered per text, and
 * frozen, since later reads of the text share it.
 */
export function storedDocument(canonical: string): AnchorDocument | null {
  const known = readBack.get(canonical);
  if (known !== undefined) return known;
  const parsed = parseCanonical(canonical);
  const doc = 'error' in parsed ? null : deepFreeze(parsed.doc);
  if (canonical.length <= READ_BACK_TEXT_CHARS) {
    while (
      readBack.size >= READ_BACK_TEXTS ||
      (readBack.size > 0 && readBackChars + canonical.length > READ_BACK_CHARS)
    ) {
      const oldest = readBack.keys().next().value!;
      readBack.delete(oldest);
      readBackChars -= oldest.length;
    }
    readBack.set(canonical, doc);
    readBackChars += canonical.length;
  }
  return doc;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
