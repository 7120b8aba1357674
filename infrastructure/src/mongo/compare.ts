import { Decimal128, Long } from 'bson';
import { isPlainObject } from './keys';

// MongoDB's ordering of BSON values: the type order first, then the value; numbers of every
// kind (int, long, double, Decimal128) compare by value, strings with an optional collator.

/** The collator of a collation other than the simple (binary) one. */
export type StringComparer = Intl.Collator | undefined;

/** mongod's canonical type order (canonicalizeBSONType). */
export const enum Canon {
  MinKey = -1,
  Null = 5,
  Number = 10,
  String = 15,
  Object = 20,
  Array = 25,
  BinData = 30,
  ObjectId = 35,
  Bool = 40,
  Date = 45,
  Timestamp = 47,
  Regex = 50,
  DbPointer = 55,
  Code = 60,
  CodeWScope = 65,
  MaxKey = 100,
}

function bsontype(v: object): string | undefined {
  const t = (v as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' ? t : undefined;
}

/** The canonical type of a value; `undefined` (a missing field) orders as null. */
export function canonicalType(v: unknown): number {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return Canon.Number;
    case 'string':
      return Canon.String;
    case 'boolean':
      return Canon.Bool;
    case 'undefined':
      return Canon.Null;
    case 'object':
      break;
    default:
      return Canon.Object;
  }
  if (v === null) return Canon.Null;
  if (Array.isArray(v)) return Canon.Array;
  if (v instanceof Date) return Canon.Date;
  if (v instanceof RegExp) return Canon.Regex;
  switch (bsontype(v)) {
    case undefined:
      return v instanceof Uint8Array ? Canon.BinData : Canon.Object;
    case 'ObjectId':
      return Canon.ObjectId;
    case 'Decimal128':
    case 'Long':
    case 'Int32':
    case 'Double':
      return Canon.Number;
    case 'Binary':
      return Canon.BinData;
    case 'Timestamp':
      return Canon.Timestamp;
    case 'MinKey':
      return Canon.MinKey;
    case 'MaxKey':
      return Canon.MaxKey;
    case 'BSONSymbol':
      return Canon.String;
    case 'BSONRegExp':
      return Canon.Regex;
    case 'Code':
      return (v as { scope?: unknown }).scope ? Canon.CodeWScope : Canon.Code;
    default:
      return Canon.Object;
  }
}

/** True for values MongoDB treats as numbers (JS numbers, Long, Int32, Double, Decimal128). */
export function isNumeric(v: unknown): boolean {
  return canonicalType(v) === Canon.Number;
}

export function isDecimal(v: unknown): v is Decimal128 {
  return typeof v === 'object' && v !== null && bsontype(v) === 'Decimal128';
}

export function isLong(v: unknown): v is Long {
  return typeof v === 'object' && v !== null && bsontype(v) === 'Long';
}

// ---- numbers ----

/** A number as an exact rational p/q (q > 0), or one of the non-finite values. */
type Num =
  { kind: 'nan' } | { kind: 'inf'; negative: boolean } | { kind: 'finite'; p: bigint; q: bigint };

interface DecimalParts {
  special?: 'nan' | 'inf' | '-inf';
  negative: boolean;
  coefficient: bigint;
  exponent: number;
}

/** Splits Decimal128's string form ("-1.25E+3", "NaN", "Infinity") into exact parts. */
export function decimalParts(d: Decimal128): DecimalParts {
  const s = d.toString();
  if (s === 'NaN') return { special: 'nan', negative: false, coefficient: 0n, exponent: 0 };
  if (s === 'Infinity') return { special: 'inf', negative: false, coefficient: 0n, exponent: 0 };
  if (s === '-Infinity') return { special: '-inf', negative: true, coefficient: 0n, exponent: 0 };
  const m = /^([+-])?(\d+)(?:\.(\d+))?(?:E([+-]?\d+))?$/i.exec(s);
  if (!m) throw new Error(`unexpected Decimal128 form ${s}`);
  const frac = m[3] ?? '';
  return {
    negative: m[1] === '-',
    coefficient: BigInt(m[2] + frac),
    exponent: Number(m[4] ?? 0) - frac.length,
  };
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

function numOf(v: unknown): Num {
  if (typeof v === 'number') return numOfDouble(v);
  if (typeof v === 'bigint') return { kind: 'finite', p: v, q: 1n };
  if (isDecimal(v)) {
    const d = decimalParts(v);
    if (d.special === 'nan') return { kind: 'nan' };
    if (d.special) return { kind: 'inf', negative: d.special === '-inf' };
    const signed = d.negative ? -d.coefficient : d.coefficient;
    return d.exponent >= 0
      ? { kind: 'finite', p: signed * pow10(d.exponent), q: 1n }
      : { kind: 'finite', p: signed, q: pow10(-d.exponent) };
  }
  if (isLong(v)) return { kind: 'finite', p: BigInt(v.toString()), q: 1n };
  const t = typeof v === 'object' && v !== null ? bsontype(v) : undefined;
  if (t === 'Int32' || t === 'Double') return numOfDouble((v as { value: number }).value);
  return { kind: 'nan' };
}

function numOfDouble(x: number): Num {
  if (Number.isNaN(x)) return { kind: 'nan' };
  if (!Number.isFinite(x)) return { kind: 'inf', negative: x < 0 };
  if (Number.isInteger(x)) return { kind: 'finite', p: BigInt(x), q: 1n };
  // Doubling a double is exact; a non-integer double becomes an integer after at most 1074.
  let n = x;
  let e = 0n;
  while (!Number.isInteger(n)) {
    n *= 2;
    e++;
  }
  return { kind: 'finite', p: BigInt(n), q: 1n << e };
}

function sign(n: bigint): number {
  return n < 0n ? -1 : n > 0n ? 1 : 0;
}

/** Compares two numbers of any BSON numeric type exactly; NaN is below every number and equals NaN. */
export function compareNumbers(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    const an = Number.isNaN(a);
    const bn = Number.isNaN(b);
    return an && bn ? 0 : an ? -1 : 1;
  }
  const x = numOf(a);
  const y = numOf(b);
  if (x.kind === 'nan' || y.kind === 'nan') {
    if (x.kind === 'nan' && y.kind === 'nan') return 0;
    return x.kind === 'nan' ? -1 : 1;
  }
  if (x.kind === 'inf' || y.kind === 'inf') {
    const xv = x.kind === 'inf' ? (x.negative ? -1 : 1) : 0;
    const yv = y.kind === 'inf' ? (y.negative ? -1 : 1) : 0;
    if (xv !== yv) return xv < yv ? -1 : 1;
    return 0;
  }
  return sign(x.p * y.q - y.p * x.q);
}

/** A Decimal128 from exact parts, rounded to 34 digits as IEEE 754-2008 decimal does. */
function decimalFrom(negative: boolean, coefficient: bigint, exponent: number): Decimal128 {
  const digits = coefficient.toString();
  return Decimal128.fromStringWithRounding(`${negative ? '-' : ''}${digits}E${exponent}`);
}

/** What mongod converts a double to before mixing it with a Decimal128 (15 significant digits). */
function decimalOfNumber(x: number): Decimal128 {
  if (Number.isNaN(x)) return Decimal128.fromString('NaN');
  if (!Number.isFinite(x)) return Decimal128.fromString(x < 0 ? '-Infinity' : 'Infinity');
  if (Number.isInteger(x) && Number.isSafeInteger(x)) return Decimal128.fromString(String(x));
  return Decimal128.fromString(x.toPrecision(15).replace('e', 'E'));
}

function toDecimal(v: unknown): Decimal128 {
  if (isDecimal(v)) return v;
  if (isLong(v)) return Decimal128.fromString(v.toString());
  if (typeof v === 'bigint') return Decimal128.fromString(v.toString());
  return decimalOfNumber(Number(v));
}

type Arith = 'add' | 'multiply';

function decimalArith(op: Arith, a: Decimal128, b: Decimal128): Decimal128 {
  const x = decimalParts(a);
  const y = decimalParts(b);
  if (x.special || y.special) {
    // Non-finite arithmetic follows the double rules (NaN propagates, inf - inf is NaN).
    const fx = x.special === 'nan' ? NaN : x.special ? (x.negative ? -Infinity : Infinity) : 1;
    const fy = y.special === 'nan' ? NaN : y.special ? (y.negative ? -Infinity : Infinity) : 1;
    const sx = x.special ? fx : x.coefficient === 0n ? 0 : x.negative ? -1 : 1;
    const sy = y.special ? fy : y.coefficient === 0n ? 0 : y.negative ? -1 : 1;
    const r = op === 'add' ? sx + sy : sx * sy;
    return decimalOfNumber(Number.isNaN(r) ? NaN : r > 0 ? Infinity : r < 0 ? -Infinity : NaN);
  }
  const xs = x.negative ? -x.coefficient : x.coefficient;
  const ys = y.negative ? -y.coefficient : y.coefficient;
  if (op === 'multiply') {
    const p = xs * ys;
    return decimalFrom(p < 0n, p < 0n ? -p : p, x.exponent + y.exponent);
  }
  const e = Math.min(x.exponent, y.exponent);
  const sum = xs * pow10(x.exponent - e) + ys * pow10(y.exponent - e);
  return decimalFrom(sum < 0n, sum < 0n ? -sum : sum, e);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * `$inc`/`$mul` arithmetic with mongod's type promotion: any Decimal128 makes a Decimal128,
 * otherwise a Long (int64) stays a Long unless a double is involved, and JS numbers stay numbers.
 * Returns undefined on int64 overflow (mongod refuses the update then).
 */
export function arith(op: Arith, a: unknown, b: unknown): unknown {
  if (isDecimal(a) || isDecimal(b)) return decimalArith(op, toDecimal(a), toDecimal(b));
  const aLong = isLong(a);
  const bLong = isLong(b);
  if (aLong || bLong) {
    const other = aLong ? b : a;
    if (typeof other === 'number' && !Number.isInteger(other)) {
      const x = Number(aLong ? (a as Long).toString() : a);
      const y = Number(bLong ? (b as Long).toString() : b);
      return op === 'add' ? x + y : x * y;
    }
    const x = BigInt(aLong ? (a as Long).toString() : Number(a));
    const y = BigInt(bLong ? (b as Long).toString() : Number(b));
    const r = op === 'add' ? x + y : x * y;
    if (r < INT64_MIN || r > INT64_MAX) return undefined;
    return Long.fromBigInt(r);
  }
  const x = Number(a);
  const y = Number(b);
  return op === 'add' ? x + y : x * y;
}

/** A Decimal128 divided by a count ($avg over decimals), rounded to 34 digits. */
export function divideDecimal(sum: unknown, count: number): Decimal128 {
  const d = decimalParts(toDecimal(sum));
  if (d.special)
    return decimalOfNumber(d.special === 'nan' ? NaN : d.negative ? -Infinity : Infinity);
  const scale = 40;
  const q = (d.coefficient * pow10(scale)) / BigInt(count);
  return decimalFrom(d.negative && q !== 0n, q, d.exponent - scale);
}

/** The zero of a number's type (what `$mul` writes into a missing field). */
export function zeroLike(v: unknown): unknown {
  if (isDecimal(v)) return Decimal128.fromString('0');
  if (isLong(v)) return Long.fromNumber(0);
  return 0;
}

/** An integral JS number or a Long as a bigint; undefined for anything else ($bit). */
export function toInteger(v: unknown): bigint | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : undefined;
  if (isLong(v)) return BigInt(v.toString());
  return undefined;
}

// ---- strings ----

/** Binary (UTF-8 byte order) comparison: code points, not UTF-16 code units. */
export function compareStringsBinary(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      // Surrogates (supplementary code points) sort after U+E000..U+FFFF in UTF-8.
      ca = ca >= 0xe000 ? ca - 0x800 : ca + 0x2000;
      cb = cb >= 0xe000 ? cb - 0x800 : cb + 0x2000;
    }
    return ca < cb ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareStrings(a: string, b: string, collator: StringComparer): number {
  if (!collator) return compareStringsBinary(a, b);
  const c = collator.compare(a, b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

function stringOf(v: unknown): string {
  return typeof v === 'string' ? v : String((v as { value?: unknown }).value ?? v);
}

// ---- everything ----

function bytesOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  const b = v as { buffer?: Uint8Array; id?: Uint8Array; value?: (asRaw: boolean) => Uint8Array };
  if (b.buffer instanceof Uint8Array) return b.buffer;
  if (b.id instanceof Uint8Array) return b.id;
  return new Uint8Array();
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function regexParts(v: unknown): [string, string] {
  if (v instanceof RegExp) return [v.source, [...v.flags].sort().join('')];
  const r = v as { pattern: string; options: string };
  return [r.pattern, [...r.options].sort().join('')];
}

function entriesOf(v: unknown): Array<[string, unknown]> {
  if (isPlainObject(v)) return Object.entries(v);
  // DBRef and other document-like BSON values compare by their document form.
  const json = (v as { toJSON?: () => unknown }).toJSON?.();
  return isPlainObject(json) ? Object.entries(json) : [];
}

/**
 * MongoDB's total order of values (BSONElement::woCompare without field names): the canonical
 * type first, then the value; strings through the collator when one is given (also inside
 * documents and arrays). `undefined` compares as null.
 */
export function compareValues(a: unknown, b: unknown, collator?: StringComparer): number {
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b, collator);
  const ta = canonicalType(a);
  const tb = canonicalType(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case Canon.Null:
    case Canon.MinKey:
    case Canon.MaxKey:
      return 0;
    case Canon.Number:
      return compareNumbers(a, b);
    case Canon.String:
      return compareStrings(stringOf(a), stringOf(b), collator);
    case Canon.Bool:
      return a === b ? 0 : a ? 1 : -1;
    case Canon.Date: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return x === y ? 0 : x < y ? -1 : 1;
    }
    case Canon.ObjectId:
      return compareBytes(bytesOf(a), bytesOf(b));
    case Canon.BinData: {
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.length !== y.length) return x.length < y.length ? -1 : 1;
      const sa = (a as { sub_type?: number }).sub_type ?? 0;
      const sb = (b as { sub_type?: number }).sub_type ?? 0;
      if (sa !== sb) return sa < sb ? -1 : 1;
      return compareBytes(x, y);
    }
    case Canon.Timestamp: {
      const x = BigInt.asUintN(64, BigInt((a as Long).toString()));
      const y = BigInt.asUintN(64, BigInt((b as Long).toString()));
      return x === y ? 0 : x < y ? -1 : 1;
    }
    case Canon.Regex: {
      const [pa, fa] = regexParts(a);
      const [pb, fb] = regexParts(b);
      return compareStringsBinary(pa, pb) || compareStringsBinary(fa, fb);
    }
    case Canon.Code:
    case Canon.CodeWScope:
      return compareStringsBinary(
        String((a as { code: unknown }).code),
        String((b as { code: unknown }).code),
      );
    case Canon.Array: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[i], y[i], collator);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    default: {
      const x = entriesOf(a);
      const y = entriesOf(b);
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const tx = canonicalType(x[i][1]);
        const ty = canonicalType(y[i][1]);
        if (tx !== ty) return tx < ty ? -1 : 1;
        const names = compareStringsBinary(x[i][0], y[i][0]);
        if (names !== 0) return names;
        const c = compareValues(x[i][1], y[i][1], collator);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
  }
}

export function valuesEqual(a: unknown, b: unknown, collator?: StringComparer): boolean {
  return compareValues(a, b, collator) === 0;
}

/** True when a value holds a string anywhere (the only values a collation affects). */
export function containsString(v: unknown): boolean {
  if (typeof v === 'string') return true;
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some(containsString);
  if (isPlainObject(v)) return Object.values(v).some(containsString);
  return bsontype(v) === 'BSONSymbol';
}

/** The BSON type number a value is stored as (JS integers in int32 range are int, others double). */
export function bsonTypeNumber(v: unknown): number {
  switch (canonicalType(v)) {
    case Canon.Null:
      return v === undefined ? 6 : 10;
    case Canon.Number:
      if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= 0x7fffffff ? 16 : 1;
      if (isDecimal(v)) return 19;
      if (isLong(v)) return 18;
      return (v as { _bsontype?: string })._bsontype === 'Int32' ? 16 : 1;
    case Canon.String:
      return typeof v === 'string' ? 2 : 14;
    case Canon.Object:
      return 3;
    case Canon.Array:
      return 4;
    case Canon.BinData:
      return 5;
    case Canon.ObjectId:
      return 7;
    case Canon.Bool:
      return 8;
    case Canon.Date:
      return 9;
    case Canon.Regex:
      return 11;
    case Canon.Code:
      return 13;
    case Canon.CodeWScope:
      return 15;
    case Canon.Timestamp:
      return 17;
    case Canon.MinKey:
      return -1;
    case Canon.MaxKey:
      return 127;
    default:
      return 3;
  }
}

/** BSON type names and their numbers, as `$type` and `$jsonSchema`'s `bsonType` take them. */
export const BSON_TYPE_NUMBERS: Record<string, number> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127,
};
