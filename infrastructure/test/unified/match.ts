/**
 * "Evaluating Matches" of the unified test format: expected values against actual ones, with
 * flexible numeric comparisons, extra fields allowed in root-level documents only, arrays of the
 * same length, and the special `$$` operators ($$exists, $$type, $$unsetOrMatches,
 * $$matchesEntity, $$lte, $$matchAsDocument, $$matchAsRoot).
 */
import { BSON, type Document } from 'mongodb';

const { EJSON } = BSON;

export class MatchError extends Error {
  override name = 'MatchError';
}

/** Resolves `$$matchesEntity` names. */
export type EntityLookup = (name: string) => unknown;

interface Context {
  entities: EntityLookup;
  /** Numbers must also be of the same BSON type (outcome: "MUST match exactly"). */
  strictNumbers: boolean;
}

type Bson = { _bsontype: string } & Record<string, unknown>;

function bsonTypeName(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const t = (value as Partial<Bson>)._bsontype;
  return typeof t === 'string' ? t : undefined;
}

/** A document in the format's sense: an object that is not a BSON value, array, date... */
export function isDocument(value: unknown): value is Document {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    bsonTypeName(value) === undefined &&
    !(value instanceof Date) &&
    !(value instanceof RegExp) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  );
}

function specialOperator(value: unknown): string | undefined {
  if (!isDocument(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0]!.startsWith('$$') ? keys[0] : undefined;
}

/**
 * The `$type` alias of a BSON value as the driver returns it. A plain JS number (the driver
 * promotes int32, int64 and double to it) is reported by its canonical Extended JSON type:
 * int when integral and in the int32 range, long when integral beyond it, else double.
 */
export function bsonTypeOf(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'long';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return 'double';
    return Math.abs(value) <= 2147483647 ? 'int' : 'long';
  }
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  if (value instanceof Uint8Array) return 'binData';
  switch (bsonTypeName(value)) {
    case 'Int32':
      return 'int';
    case 'Double':
      return 'double';
    case 'Long':
      return 'long';
    case 'Decimal128':
      return 'decimal';
    case 'ObjectId':
      return 'objectId';
    case 'Binary':
      return 'binData';
    case 'BSONRegExp':
      return 'regex';
    case 'Timestamp':
      return 'timestamp';
    case 'MinKey':
      return 'minKey';
    case 'MaxKey':
      return 'maxKey';
    case 'BSONSymbol':
      return 'symbol';
    case 'Code':
      return (value as Bson).scope ? 'javascriptWithScope' : 'javascript';
    case 'DBRef':
      return 'object';
    case undefined:
      return 'object';
    default:
      return String(bsonTypeName(value));
  }
}

/**
 * The types `$$type` accepts for an actual value: a promoted JS number may have been any numeric
 * type it can represent (an integral one an int, a long or a double).
 */
function possibleTypes(value: unknown): string[] {
  if (typeof value === 'number' && Number.isInteger(value)) {
    return Math.abs(value) <= 2147483647 ? ['int', 'long', 'double'] : ['long', 'double'];
  }
  return [bsonTypeOf(value)];
}

const NUMBER_TYPES = new Set(['int', 'long', 'double', 'decimal']);

/** int32 / int64 / double (not Decimal128), as the format's flexible numeric comparison sees them. */
function flexibleNumber(value: unknown): number | bigint | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  switch (bsonTypeName(value)) {
    case 'Int32':
    case 'Double':
      return (value as { value: number }).value;
    case 'Long':
      return BigInt((value as { toString(): string }).toString());
    default:
      return undefined;
  }
}

function numbersEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || (Number.isNaN(a) && Number.isNaN(b));
  }
  // One of them is an int64: compare exactly when both are integral.
  const toBig = (n: number | bigint) =>
    typeof n === 'bigint' ? n : Number.isInteger(n) ? BigInt(n) : undefined;
  const ba = toBig(a);
  const bb = toBig(b);
  if (ba !== undefined && bb !== undefined) return ba === bb;
  return Number(a) === Number(b);
}

/** Short, readable rendering of a value for failure messages. */
export function show(value: unknown): string {
  if (value === undefined) return '(absent)';
  try {
    const text = EJSON.stringify(value as Document, { relaxed: true });
    return text.length > 300 ? `${text.slice(0, 297)}...` : text;
  } catch {
    return String(value);
  }
}

function fail(path: string, message: string): never {
  throw new MatchError(`${path || '$'}: ${message}`);
}

function matchScalar(expected: unknown, actual: unknown, path: string, ctx: Context): void {
  const en = flexibleNumber(expected);
  if (en !== undefined) {
    const an = flexibleNumber(actual);
    if (an === undefined || !numbersEqual(en, an)) {
      fail(path, `expected ${show(expected)}, got ${show(actual)}`);
    }
    if (ctx.strictNumbers && bsonTypeOf(expected) !== bsonTypeOf(actual)) {
      fail(
        path,
        `expected ${bsonTypeOf(expected)} ${show(expected)}, got ${bsonTypeOf(actual)} ${show(actual)}`,
      );
    }
    return;
  }
  const mismatch = () => fail(path, `expected ${show(expected)}, got ${show(actual)}`);
  if (expected === null) {
    if (actual !== null) mismatch();
    return;
  }
  if (typeof expected === 'string' || typeof expected === 'boolean') {
    if (actual !== expected) mismatch();
    return;
  }
  if (expected instanceof Date) {
    if (!(actual instanceof Date) || actual.getTime() !== expected.getTime()) mismatch();
    return;
  }
  const type = bsonTypeName(expected);
  if (type === undefined || bsonTypeName(actual) !== type) {
    if (!(type === 'BSONRegExp' && actual instanceof RegExp)) mismatch();
  }
  switch (type) {
    case 'Decimal128':
    case 'ObjectId':
    case 'Timestamp':
      if (String(expected) !== String(actual)) mismatch();
      return;
    case 'Binary': {
      const e = expected as unknown as { sub_type: number; buffer: Uint8Array };
      const a = actual as unknown as { sub_type: number; buffer: Uint8Array };
      if (e.sub_type !== a.sub_type || Buffer.compare(e.buffer, a.buffer) !== 0) mismatch();
      return;
    }
    case 'BSONRegExp': {
      const e = expected as unknown as { pattern: string; options: string };
      const a =
        actual instanceof RegExp
          ? { pattern: actual.source, options: actual.flags }
          : (actual as unknown as { pattern: string; options: string });
      const sorted = (s: string) => [...s].sort().join('');
      if (e.pattern !== a.pattern || sorted(e.options) !== sorted(a.options)) mismatch();
      return;
    }
    case 'MinKey':
    case 'MaxKey':
      return;
    default:
      if (EJSON.stringify(expected as Document) !== EJSON.stringify(actual as Document)) mismatch();
  }
}

function matchSpecial(
  op: string,
  argument: unknown,
  actual: unknown,
  root: boolean,
  path: string,
  ctx: Context,
): void {
  switch (op) {
    case '$$unsetOrMatches':
      if (actual === undefined) return;
      matchValue(argument, actual, root, path, ctx);
      return;
    case '$$exists':
      fail(path, '$$exists is only valid as the value of a field');
      return;
    case '$$type': {
      const wanted = Array.isArray(argument) ? (argument as string[]) : [argument as string];
      const types = possibleTypes(actual);
      const ok =
        actual !== undefined &&
        wanted.some(
          (w) => types.includes(w) || (w === 'number' && types.some((t) => NUMBER_TYPES.has(t))),
        );
      if (!ok)
        fail(path, `expected type ${wanted.join('|')}, got ${types.join('|')} ${show(actual)}`);
      return;
    }
    case '$$matchesEntity':
      matchValue(ctx.entities(String(argument)), actual, root, path, ctx);
      return;
    case '$$lte': {
      const limit = flexibleNumber(argument);
      const value = flexibleNumber(actual);
      if (limit === undefined) fail(path, `$$lte needs a number, got ${show(argument)}`);
      if (value === undefined || Number(value) > Number(limit)) {
        fail(path, `expected a number <= ${show(argument)}, got ${show(actual)}`);
      }
      return;
    }
    case '$$matchAsDocument': {
      if (typeof actual !== 'string')
        fail(path, `expected an Extended JSON string, got ${show(actual)}`);
      const parsed: unknown = EJSON.parse(actual as string, { relaxed: false });
      matchValue(argument, parsed, false, path, ctx);
      return;
    }
    case '$$matchAsRoot':
      matchValue(argument, actual, true, path, ctx);
      return;
    default:
      throw new Error(`${path}: special operator ${op} is not implemented by this runner`);
  }
}

function matchValue(
  expected: unknown,
  actualValue: unknown,
  root: boolean,
  path: string,
  ctx: Context,
): void {
  // The driver builds some command fields (find's sort) as a Map.
  const actual = actualValue instanceof Map ? Object.fromEntries(actualValue) : actualValue;
  const op = specialOperator(expected);
  if (op) {
    matchSpecial(op, (expected as Document)[op], actual, root, path, ctx);
    return;
  }
  if (isDocument(expected)) {
    if (!isDocument(actual)) fail(path, `expected a document, got ${show(actual)}`);
    const act = actual as Document;
    for (const [key, value] of Object.entries(expected)) {
      const sub = `${path}.${key}`;
      const present = Object.prototype.hasOwnProperty.call(act, key) && act[key] !== undefined;
      const keyOp = specialOperator(value);
      if (keyOp === '$$exists') {
        const want = Boolean((value as Document).$$exists);
        if (present !== want) {
          fail(
            sub,
            want ? 'expected the field to exist' : `expected no field, got ${show(act[key])}`,
          );
        }
        continue;
      }
      if (keyOp === '$$unsetOrMatches') {
        if (present) matchValue((value as Document).$$unsetOrMatches, act[key], false, sub, ctx);
        continue;
      }
      if (!present) fail(sub, `missing (expected ${show(value)})`);
      matchValue(value, act[key], false, sub, ctx);
    }
    if (!root) {
      const extra = Object.keys(act).filter(
        (k) => act[k] !== undefined && !Object.prototype.hasOwnProperty.call(expected, k),
      );
      if (extra.length > 0) {
        fail(path, `unexpected field(s) ${extra.join(', ')} in ${show(act)}`);
      }
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) fail(path, `expected an array, got ${show(actual)}`);
    const act = actual as unknown[];
    if (act.length !== expected.length) {
      fail(path, `expected ${expected.length} element(s), got ${act.length}: ${show(act)}`);
    }
    expected.forEach((value, i) => matchValue(value, act[i], false, `${path}[${i}]`, ctx));
    return;
  }
  if (actual === undefined) fail(path, `missing (expected ${show(expected)})`);
  matchScalar(expected, actual, path, ctx);
}

/** Matches a value; `root` allows extra fields in the top-level document (and only there). */
export function assertMatches(
  expected: unknown,
  actual: unknown,
  options: { root: boolean; entities: EntityLookup; path?: string; strictNumbers?: boolean },
): void {
  matchValue(expected, actual, options.root, options.path ?? '$', {
    entities: options.entities,
    strictNumbers: options.strictNumbers ?? false,
  });
}

/**
 * Matches the documents of an iterated cursor (find, aggregate, listIndexes...): the same number
 * of documents, each one a root-level document.
 */
export function assertMatchesIterable(
  expected: unknown,
  actual: unknown[],
  options: { entities: EntityLookup; path?: string },
): void {
  const path = options.path ?? '$';
  const ctx = { entities: options.entities, strictNumbers: false };
  const op = specialOperator(expected);
  if (op) {
    matchSpecial(op, (expected as Document)[op], actual, true, path, ctx);
    return;
  }
  if (!Array.isArray(expected)) fail(path, `expected ${show(expected)}, got ${show(actual)}`);
  const exp = expected as unknown[];
  if (actual.length !== exp.length) {
    fail(path, `expected ${exp.length} document(s), got ${actual.length}: ${show(actual)}`);
  }
  exp.forEach((value, i) => matchValue(value, actual[i], true, `${path}[${i}]`, ctx));
}
