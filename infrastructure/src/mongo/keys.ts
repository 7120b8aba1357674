import { Binary, Decimal128, EJSON, Long, ObjectId, type Document } from 'bson';

/** True for plain JS objects (embedded documents), false for BSON values, dates, arrays, regexes. */
export function isPlainObject(v: unknown): v is Document {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as object | null;
  return proto === Object.prototype || proto === null;
}

/** True when an object is an operator expression such as `{ $gt: 1 }`. */
export function isOperatorObject(v: unknown): v is Document {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys[0].startsWith('$');
}

/**
 * A string that is equal for values MongoDB's index considers equal (for the types the
 * services store). Numbers of every width are promoted to JS numbers on the way in, so
 * `1` and `1.0` share a key.
 */
export function valueKey(v: unknown): string {
  if (v === undefined || v === null) return 'n';
  switch (typeof v) {
    case 'number':
      return numberKey(v);
    case 'string':
      return `s:${v}`;
    case 'boolean':
      return `b:${v}`;
    case 'bigint':
      return `d:${v}`;
    default:
  }
  if (v instanceof ObjectId) return `o:${v.toHexString()}`;
  if (v instanceof Date) return `t:${v.getTime()}`;
  if ((v as { _bsontype?: string })._bsontype === 'Timestamp') return `ts:${String(v)}`;
  if (v instanceof Long) return `d:${v.toString()}`;
  if (v instanceof Decimal128) return decimalKey(v);
  if (v instanceof Binary) return `x:${v.sub_type}:${Buffer.from(v.buffer).toString('base64')}`;
  return `j:${EJSON.stringify(v as Document, { relaxed: false })}`;
}

/** Numbers equal in value share a key whatever their type (1, 1.0, Long(1), Decimal128('1.00')). */
function numberKey(v: number): string {
  if (Number.isInteger(v) && !Number.isSafeInteger(v)) return `d:${BigInt(v)}`;
  return `d:${v}`;
}

function decimalKey(v: Decimal128): string {
  const s = v.toString();
  if (s === 'NaN' || s === 'Infinity' || s === '-Infinity') return `d:${s}`;
  const m = /^([+-])?(\d+)(?:\.(\d+))?(?:E([+-]?\d+))?$/i.exec(s);
  if (!m) return `m:${s}`;
  const frac = m[3] ?? '';
  let coefficient = BigInt(m[2] + frac);
  let exponent = Number(m[4] ?? 0) - frac.length;
  if (coefficient === 0n) return 'd:0';
  while (coefficient % 10n === 0n) {
    coefficient /= 10n;
    exponent++;
  }
  const negative = m[1] === '-';
  if (exponent >= 0) {
    const n = coefficient * 10n ** BigInt(exponent);
    return `d:${negative ? -n : n}`;
  }
  // A fraction equal to a double shares the double's key.
  const text = `${negative ? '-' : ''}${coefficient}e${exponent}`;
  const x = Number(text);
  if (
    Number.isFinite(x) &&
    exactDecimalOfDouble(x) === `${negative ? '-' : ''}${coefficient}e${exponent}`
  )
    return `d:${x}`;
  return `m:${text}`;
}

/** A double's exact value as `<coefficient>e<exponent>` with no trailing zeros. */
function exactDecimalOfDouble(x: number): string {
  let n = x;
  let e = 0;
  while (!Number.isInteger(n)) {
    n *= 2;
    e++;
  }
  // n / 2^e = n * 5^e / 10^e
  let coefficient = BigInt(n) * 5n ** BigInt(e);
  let exponent = -e;
  const negative = coefficient < 0n;
  if (negative) coefficient = -coefficient;
  while (coefficient !== 0n && coefficient % 10n === 0n) {
    coefficient /= 10n;
    exponent++;
  }
  return `${negative ? '-' : ''}${coefficient}e${exponent}`;
}

/**
 * Every value a dotted path reaches in a document, descending into arrays like a
 * multikey index does. A missing field yields `[undefined]` (indexed as null).
 */
export function valuesAt(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  collect(doc, path.split('.'), 0, out);
  return out.length > 0 ? out : [undefined];
}

function collect(v: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    if (Array.isArray(v)) {
      if (v.length === 0) out.push(undefined);
      else out.push(...v);
    } else out.push(v);
    return;
  }
  if (Array.isArray(v)) {
    const part = parts[i];
    if (/^\d+$/.test(part)) collect(v[Number(part)], parts, i + 1, out);
    else for (const el of v) if (isPlainObject(el)) collect(el, parts, i, out);
    return;
  }
  if (isPlainObject(v)) {
    collect(v[parts[i]], parts, i + 1, out);
    return;
  }
  out.push(undefined);
}

/** Formats a value the way mongod prints it in E11000 messages. */
export function formatValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Decimal128) return `Decimal128('${v.toString()}')`;
  return EJSON.stringify(v as Document);
}

/** A deep copy that keeps BSON types (structuredClone would drop their prototypes). */
export function cloneDocument<T extends Document>(doc: T): T {
  return cloneValue(doc) as T;
}

/**
 * A document's own field (never one its prototype lends: a field path named `__proto__` or
 * `constructor` reads the document, not Object.prototype).
 */
export function ownField(doc: Document, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(doc, key) ? doc[key] : undefined;
}

/** Sets a document's own field; `__proto__` becomes a field, as in BSON, not the prototype. */
export function setOwnField(doc: Document, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(doc, key, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else doc[key] = value;
}

function cloneValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cloneValue);
  if (v instanceof Date) return new Date(v.getTime());
  if (isPlainObject(v)) {
    const out: Document = {};
    for (const k of Object.keys(v)) setOwnField(out, k, cloneValue(v[k]));
    return out;
  }
  // BSON values (ObjectId, Decimal128, Binary, Long...) are treated as immutable.
  return v;
}

/** Sets a dotted path in a document, creating the objects on the way. */
export function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(cur[part])) cur[part] = {};
    cur = cur[part] as Document;
  }
  cur[parts[parts.length - 1]] = value;
}
