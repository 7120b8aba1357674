import { createRequire } from 'node:module';
import { Decimal128, type Document } from 'bson';
import { Aggregator as BaseAggregator } from 'mingo/aggregator';
import { Context, evalExpr } from 'mingo/core';
import { Lazy, type Iterator } from 'mingo/lazy';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import { Query as BaseQuery } from 'mingo/query';
import type { Options } from 'mingo/types';
import type { Collation } from './collation';
import {
  arith,
  BSON_TYPE_NUMBERS,
  bsonTypeNumber,
  Canon,
  canonicalType,
  compareValues,
  containsString,
  divideDecimal,
  isDecimal,
  isLong,
  type StringComparer,
} from './compare';
import { MongoCommandError } from './errors';
import { isOperatorObject, isPlainObject, setPath, valueKey } from './keys';
import { compileJsonSchema } from './json-schema';

// The query, sort and expression semantics mingo does not give exactly: every comparison goes
// through compare.ts (numbers across types, Decimal128, BSON type order) and honours the
// collation; array fields follow MongoDB's path rules. mingo runs everything else.

/** What every mingo call of a command shares. */
export interface MatchOptions {
  collation?: Collation;
  /** Command-level `let` variables (already evaluated). */
  variables?: Document;
  collectionResolver?: (name: string) => Document[];
}

type Predicate = (doc: unknown) => boolean;
type AnyOptions = Options & { collation?: unknown; local?: { variables?: Document } };

export function collatorFrom(options: unknown): StringComparer {
  const c = (options as { collation?: { collator?: unknown } } | undefined)?.collation;
  return c?.collator instanceof Intl.Collator ? c.collator : undefined;
}

// ---- paths ----

/**
 * The values a query path reaches (MongoDB's element path): documents are descended, arrays
 * on the way are traversed element by element (a numeric component indexes them), and an
 * array at the end yields itself and each of its elements. A path that reaches nothing
 * yields `undefined` (missing), which equality to null matches.
 */
export function pathCandidates(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  walk(doc, path.split('.'), 0, out);
  if (out.length === 0) out.push(undefined);
  return out;
}

function walk(v: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    out.push(v);
    if (Array.isArray(v)) for (const el of v) out.push(el);
    return;
  }
  const part = parts[i];
  if (Array.isArray(v)) {
    if (/^\d+$/.test(part)) {
      walk(v[Number(part)], parts, i + 1, out);
      return;
    }
    for (const el of v) if (isPlainObject(el)) walk(el, parts, i, out);
    return;
  }
  if (isPlainObject(v)) {
    walk(v[part], parts, i + 1, out);
    return;
  }
  out.push(undefined);
}

// ---- query operators ----

function isRegex(v: unknown): boolean {
  return (
    v instanceof RegExp ||
    (typeof v === 'object' &&
      v !== null &&
      (v as { _bsontype?: string })._bsontype === 'BSONRegExp')
  );
}

function regexTest(re: unknown, s: unknown): boolean {
  if (typeof s !== 'string') return false;
  const r =
    re instanceof RegExp
      ? re
      : new RegExp(
          (re as { pattern: string }).pattern,
          (re as { options: string }).options.replace(/[^imsu]/g, ''),
        );
  r.lastIndex = 0;
  return r.test(s);
}

function isNullish(v: unknown): boolean {
  return v === null || v === undefined;
}

function equals(c: unknown, v: unknown, collator: StringComparer): boolean {
  if (isNullish(v)) return isNullish(c);
  return compareValues(c, v, collator) === 0;
}

function matchesEq(candidates: unknown[], v: unknown, collator: StringComparer): boolean {
  for (const c of candidates) if (equals(c, v, collator)) return true;
  return false;
}

type Cmp = (c: number) => boolean;

function matchesRange(candidates: unknown[], v: unknown, test: Cmp, collator: StringComparer) {
  const tv = canonicalType(v);
  if (tv === Canon.Null) {
    // $gte/$lte null mean equality to null; $gt/$lt null match nothing.
    return test(0) && candidates.some(isNullish);
  }
  const fullOrder = tv === Canon.MinKey || tv === Canon.MaxKey;
  for (const c of candidates) {
    if (!fullOrder && canonicalType(c) !== tv) continue;
    if (test(compareValues(c, v, collator))) return true;
  }
  return false;
}

function matchesIn(candidates: unknown[], values: unknown[], collator: StringComparer): boolean {
  for (const v of values) {
    if (isRegex(v)) {
      if (candidates.some((c) => regexTest(v, c) || (isRegex(c) && compareValues(c, v) === 0)))
        return true;
    } else if (matchesEq(candidates, v, collator)) return true;
  }
  return false;
}

function leaf(
  selector: string,
  options: AnyOptions,
  test: (candidates: unknown[], collator: StringComparer) => boolean,
): Predicate {
  const collator = collatorFrom(options);
  return (doc) => test(pathCandidates(doc, selector), collator);
}

function inValues(value: unknown, op: string): unknown[] {
  if (!Array.isArray(value)) throw new MongoCommandError('BadValue', `${op} needs an array`);
  for (const v of value)
    if (isOperatorObject(v)) throw new MongoCommandError('BadValue', `cannot nest $ under ${op}`);
  return value;
}

const rangeOp =
  (test: Cmp) =>
  (selector: string, value: unknown, options: AnyOptions): Predicate => {
    if (isRegex(value)) {
      // A regex operand compares as a regex (only regex values match).
      return leaf(selector, options, (cs) =>
        cs.some((c) => isRegex(c) && test(compareValues(c, value))),
      );
    }
    return leaf(selector, options, (cs, col) => matchesRange(cs, value, test, col));
  };

function typeMatcher(spec: unknown): (v: unknown) => boolean {
  if (spec === 'number') return (v) => canonicalType(v) === Canon.Number;
  let n: number | undefined;
  if (typeof spec === 'string') n = BSON_TYPE_NUMBERS[spec];
  else if (typeof spec === 'number' && Number.isInteger(spec)) n = spec;
  if (n === undefined || (n !== -1 && n !== 127 && (n < 1 || n > 19)))
    throw new MongoCommandError('BadValue', `Unknown type name alias: ${String(spec)}`);
  const want = n;
  return (v) => bsonTypeNumber(v) === want;
}

const mingoQuery = queryOperators as unknown as Record<
  string,
  (selector: string, value: unknown, options: AnyOptions) => Predicate
>;

const QUERY_OVERRIDES = {
  $eq: (selector: string, value: unknown, options: AnyOptions): Predicate =>
    leaf(selector, options, (cs, col) =>
      isRegex(value)
        ? cs.some((c) => isRegex(c) && compareValues(c, value) === 0)
        : matchesEq(cs, value, col),
    ),
  $ne: (selector: string, value: unknown, options: AnyOptions): Predicate => {
    if (isRegex(value)) throw new MongoCommandError('BadValue', "Can't have regex as arg to $ne.");
    return leaf(selector, options, (cs, col) => !matchesEq(cs, value, col));
  },
  $gt: rangeOp((c) => c > 0),
  $gte: rangeOp((c) => c >= 0),
  $lt: rangeOp((c) => c < 0),
  $lte: rangeOp((c) => c <= 0),
  $in: (selector: string, value: unknown, options: AnyOptions): Predicate => {
    const values = inValues(value, '$in');
    return leaf(selector, options, (cs, col) => matchesIn(cs, values, col));
  },
  $nin: (selector: string, value: unknown, options: AnyOptions): Predicate => {
    const values = inValues(value, '$nin');
    return leaf(selector, options, (cs, col) => !matchesIn(cs, values, col));
  },
  $all: (selector: string, value: unknown, options: AnyOptions): Predicate => {
    if (!Array.isArray(value)) throw new MongoCommandError('BadValue', '$all needs an array');
    if (value.length === 0) return () => false;
    const parts: Predicate[] = value.map((v) => {
      if (isPlainObject(v) && Object.keys(v)[0] === '$elemMatch')
        return mingoQuery.$elemMatch(selector, v.$elemMatch, options);
      if (isRegex(v)) return leaf(selector, options, (cs) => cs.some((c) => regexTest(v, c)));
      return leaf(selector, options, (cs, col) => matchesEq(cs, v, col));
    });
    return (doc) => parts.every((p) => p(doc));
  },
  $type: (selector: string, value: unknown, _options: AnyOptions): Predicate => {
    const tests = (Array.isArray(value) ? value : [value]).map(typeMatcher);
    return (doc) => {
      const cs = pathCandidates(doc, selector);
      // A missing field has no type (pathCandidates reports it as undefined).
      return cs.some((c) => c !== undefined && tests.some((t) => t(c)));
    };
  },
};

// ---- expression operators (aggregation: whole values, full BSON order, missing < null) ----

function compareExpr(a: unknown, b: unknown, collator: StringComparer): number {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    // Missing sorts below everything but MinKey.
    const other = a === undefined ? b : a;
    const low = canonicalType(other) === Canon.MinKey ? 1 : -1;
    return a === undefined ? low : -low;
  }
  return compareValues(a, b, collator);
}

function twoArgs(
  name: string,
  obj: unknown,
  expr: unknown,
  options: AnyOptions,
): [unknown, unknown] {
  const args = evalExpr(obj, expr, options) as unknown;
  if (!Array.isArray(args) || args.length !== 2)
    throw new MongoCommandError(
      'Location16020',
      `Expression ${name} takes exactly 2 arguments. ${Array.isArray(args) ? args.length : 1} were passed in.`,
    );
  return [args[0], args[1]];
}

const exprCompare =
  (name: string, test: (c: number) => unknown) =>
  (obj: unknown, expr: unknown, options: AnyOptions): unknown => {
    const [a, b] = twoArgs(name, obj, expr, options);
    return test(compareExpr(a, b, collatorFrom(options)));
  };

const EXPRESSION_OVERRIDES = {
  $eq: exprCompare('$eq', (c) => c === 0),
  $ne: exprCompare('$ne', (c) => c !== 0),
  $gt: exprCompare('$gt', (c) => c > 0),
  $gte: exprCompare('$gte', (c) => c >= 0),
  $lt: exprCompare('$lt', (c) => c < 0),
  $lte: exprCompare('$lte', (c) => c <= 0),
  $cmp: exprCompare('$cmp', (c) => c),
  $in: (obj: unknown, expr: unknown, options: AnyOptions): unknown => {
    const [v, arr] = twoArgs('$in', obj, expr, options);
    if (!Array.isArray(arr))
      throw new MongoCommandError(
        'Location40081',
        `$in requires an array as a second argument, found: ${arr === undefined ? 'missing' : typeof arr}`,
      );
    const collator = collatorFrom(options);
    return arr.some((x) => compareExpr(v, x, collator) === 0);
  },
  $toDecimal: (obj: unknown, expr: unknown, options: AnyOptions): unknown =>
    toDecimal128(evalExpr(obj, expr, options)),
  /** The group key of a document (see $group below). */
  $_standInGroupKey: (obj: unknown, marker: GroupKeyMarker, options: AnyOptions): unknown => {
    const value = evalExpr(obj, marker.expr, options) as unknown;
    return marker.keys.representative(value === undefined ? null : value);
  },
};

// ---- accumulators: $sum and $avg over Decimal128 and Long values ----

type AccumulatorFn = (coll: unknown[], expr: unknown, options: AnyOptions) => unknown;
const mingoAccumulators = accumulatorOperators as unknown as Record<string, AccumulatorFn>;

function accumulated(coll: unknown[], expr: unknown, options: AnyOptions): unknown[] {
  if (expr === null || expr === undefined) return coll;
  return mingoAccumulators.$push(coll, expr, options) as unknown[];
}

function wide(values: unknown[]): boolean {
  return values.some((v) => isDecimal(v) || isLong(v));
}

const ACCUMULATOR_OVERRIDES: Record<string, AccumulatorFn> = {
  // mingo adds JS numbers only; with a Decimal128 (or an int64 beyond 2^53) in the input the
  // sum follows mongod's promotion instead (any decimal: a decimal).
  $sum: (coll, expr, options) => {
    const values =
      typeof expr === 'number' ? coll.map(() => expr) : accumulated(coll, expr, options);
    if (!wide(values)) return mingoAccumulators.$sum(coll, expr, options);
    let total: unknown = 0;
    for (const v of values) if (canonicalType(v) === Canon.Number) total = arith('add', total, v);
    return total;
  },
  $avg: (coll, expr, options) => {
    const values = accumulated(coll, expr, options).filter(
      (v) => canonicalType(v) === Canon.Number,
    );
    if (!wide(values)) return mingoAccumulators.$avg(coll, expr, options);
    let total: unknown = 0;
    for (const v of values) total = arith('add', total, v);
    return values.some(isDecimal)
      ? divideDecimal(total, values.length)
      : Number(String(total)) / values.length;
  },
  // mingo orders values with its own comparison (a Decimal128 sorts as an object); these
  // compare in BSON order and under the collation. Null and missing values are skipped.
  $max: (coll, expr, options) =>
    extreme(accumulated(coll, expr, options), 1, collatorFrom(options)),
  $min: (coll, expr, options) =>
    extreme(accumulated(coll, expr, options), -1, collatorFrom(options)),
  $addToSet: (coll, expr, options) => {
    const collator = collatorFrom(options);
    const out: unknown[] = [];
    for (const v of accumulated(coll, expr, options)) {
      if (v === undefined) continue;
      if (!out.some((x) => compareValues(x, v, collator) === 0)) out.push(v);
    }
    return out;
  },
};

function extreme(values: unknown[], dir: 1 | -1, collator: StringComparer): unknown {
  let best: unknown;
  for (const v of values) {
    if (v === null || v === undefined) continue;
    if (best === undefined || compareValues(v, best, collator) * dir > 0) best = v;
  }
  return best === undefined ? null : best;
}

/** $toDecimal (mingo answers a JS number): mongod's conversions to Decimal128. */
function toDecimal128(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (isDecimal(v)) return v;
  if (typeof v === 'boolean') return Decimal128.fromString(v ? '1' : '0');
  if (v instanceof Date) return Decimal128.fromString(String(v.getTime()));
  if (isLong(v)) return Decimal128.fromString(v.toString());
  if (typeof v === 'number') return arith('add', Decimal128.fromString('0'), v);
  if (typeof v === 'string') {
    try {
      return Decimal128.fromString(v.trim() === v ? v : '');
    } catch {
      throw new MongoCommandError(
        'ConversionFailure',
        `Failed to parse number '${v}' in $convert with no onError value: Failed to parse string to decimal`,
      );
    }
  }
  throw new MongoCommandError(
    'ConversionFailure',
    `Unsupported conversion from ${canonicalType(v) === Canon.Object ? 'object' : typeof v} to decimal in $convert with no onError value`,
  );
}

// ---- canonical representatives (group keys, collated index keys) ----

/**
 * Maps values to one representative per equivalence class under a collation: equal values
 * (1 and 1.0, or 'Ann' and 'ann' at strength 2) get the first one seen, and the same key.
 * Values without strings are keyed by valueKey; those with strings are found by binary
 * search in a sorted list (Intl.Collator gives no sort keys).
 */
export class Canonicalizer {
  private readonly byKey = new Map<string, unknown>();
  private readonly sorted: Array<{ value: unknown; key: string }> = [];
  private next = 0;

  constructor(private readonly collator: StringComparer) {}

  representative(value: unknown): unknown {
    const k = this.key(value);
    return this.byKey.get(k);
  }

  /** The class key of a value, registering the class when it is new (unless `lookupOnly`). */
  key(value: unknown, lookupOnly = false): string {
    if (!this.collator || !containsString(value)) {
      const k = valueKey(value);
      if (!lookupOnly && !this.byKey.has(k)) this.byKey.set(k, value);
      return k;
    }
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = compareValues(this.sorted[mid].value, value, this.collator);
      if (c === 0) return this.sorted[mid].key;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    const k = `c:${this.next++}`;
    if (lookupOnly) return k;
    this.sorted.splice(lo, 0, { value, key: k });
    this.byKey.set(k, value);
    return k;
  }

  /** Forgets a class (its last holder is gone). */
  forget(key: string): void {
    if (!this.byKey.has(key)) return;
    const value = this.byKey.get(key);
    this.byKey.delete(key);
    if (!key.startsWith('c:')) return;
    const i = this.sorted.findIndex((e) => e.key === key);
    if (i >= 0) this.sorted.splice(i, 1);
    void value;
  }
}

interface GroupKeyMarker {
  expr: unknown;
  keys: Canonicalizer;
}

// ---- sorting ----

export type SortSpec = Array<[string, 1 | -1]>;

/** Reads a sort document ({ a: 1, b: -1 }); other orders answer mongod's error. */
export function sortSpecOf(sort: Document): SortSpec {
  return Object.entries(sort).map(([k, v]) => {
    const n = typeof v === 'number' ? v : isLong(v) || isDecimal(v) ? Number(v.toString()) : NaN;
    if (n !== 1 && n !== -1)
      throw new MongoCommandError(
        'Location15975',
        '$sort key ordering must be 1 (for ascending) or -1 (for descending)',
      );
    return [k, n];
  });
}

/** Empty arrays sort below null (their key is BSON undefined). */
const EMPTY_ARRAY_KEY: unique symbol = Symbol('empty array');

function sortValues(v: unknown, parts: string[], i: number, out: unknown[]): void {
  if (i === parts.length) {
    if (Array.isArray(v)) {
      if (v.length === 0) out.push(EMPTY_ARRAY_KEY);
      else out.push(...v);
    } else out.push(v);
    return;
  }
  if (Array.isArray(v)) {
    const part = parts[i];
    if (/^\d+$/.test(part)) sortValues(v[Number(part)], parts, i + 1, out);
    else for (const el of v) if (isPlainObject(el)) sortValues(el, parts, i, out);
    return;
  }
  if (isPlainObject(v)) sortValues(v[parts[i]], parts, i + 1, out);
  else out.push(undefined);
}

/** The values of a path with arrays expanded (as $lookup and indexes see them); none: [null]. */
export function expandedValues(doc: unknown, path: string): unknown[] {
  const out: unknown[] = [];
  sortValues(doc, path.split('.'), 0, out);
  const values = out.filter((v) => v !== EMPTY_ARRAY_KEY);
  return values.length > 0 ? values : [null];
}

function compareSortKeys(a: unknown, b: unknown, collator: StringComparer): number {
  if (a === EMPTY_ARRAY_KEY || b === EMPTY_ARRAY_KEY) {
    if (a === b) return 0;
    const other = a === EMPTY_ARRAY_KEY ? b : a;
    const low = canonicalType(other) === Canon.MinKey ? 1 : -1;
    return a === EMPTY_ARRAY_KEY ? low : -low;
  }
  return compareValues(a, b, collator);
}

/**
 * The sort key of a document for one field: an array contributes its smallest element to an
 * ascending sort and its largest to a descending one; missing is null.
 */
function sortKey(doc: unknown, path: string, dir: 1 | -1, collator: StringComparer): unknown {
  const values: unknown[] = [];
  sortValues(doc, path.split('.'), 0, values);
  if (values.length === 0) return undefined;
  let best = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compareSortKeys(values[i], best, collator);
    if (dir === 1 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}

/** Sorts documents as MongoDB does (stable for ties). */
export function sortDocs<T>(docs: T[], spec: SortSpec, collator: StringComparer): T[] {
  if (spec.length === 0 || docs.length < 2) return docs;
  const keys = docs.map((d) => spec.map(([path, dir]) => sortKey(d, path, dir, collator)));
  const order = docs.map((_, i) => i);
  order.sort((x, y) => {
    for (let k = 0; k < spec.length; k++) {
      const c = compareSortKeys(keys[x][k], keys[y][k], collator);
      if (c !== 0) return spec[k][1] === 1 ? c : -c;
    }
    return x - y;
  });
  return order.map((i) => docs[i]);
}

// ---- pipeline stages ----

type StageFn = (coll: Iterator, expr: unknown, options: AnyOptions) => Iterator;
const mingoPipeline = pipelineOperators as unknown as Record<string, StageFn>;

function withVariables(options: AnyOptions, extra: Document): Partial<Options> {
  const base = (options as unknown as { options?: Options }).options ?? options;
  return {
    ...base,
    variables: { ...(base.variables ?? {}), ...(options.local?.variables ?? {}), ...extra },
  };
}

const PIPELINE_OVERRIDES: Record<string, StageFn> = {
  $sort: (coll, expr, options) => {
    if (!isPlainObject(expr) || Object.keys(expr).length === 0)
      throw new MongoCommandError('Location15976', '$sort stage must have at least one sort key');
    const spec = sortSpecOf(expr);
    const collator = collatorFrom(options);
    return coll.transform((docs: unknown[]) => Lazy(sortDocs(docs, spec, collator)));
  },
  $group: (coll, expr, options) => {
    if (!isPlainObject(expr) || !('_id' in expr))
      throw new MongoCommandError('Location15955', 'a group specification must include an _id');
    // Group keys: missing is null, equal values (numbers across types, strings under the
    // collation) share one key; mingo groups the representatives and runs the accumulators.
    const marker: GroupKeyMarker = {
      expr: expr._id,
      keys: new Canonicalizer(collatorFrom(options)),
    };
    return mingoPipeline.$group(coll, { ...expr, _id: { $_standInGroupKey: marker } }, options);
  },
  $lookup: (coll, expr, options) => {
    if (!isPlainObject(expr) || typeof expr.as !== 'string')
      throw new MongoCommandError('FailedToParse', "$lookup requires an 'as' field");
    const spec = expr;
    const hasKeys = spec.localField !== undefined || spec.foreignField !== undefined;
    if (hasKeys && (typeof spec.localField !== 'string' || typeof spec.foreignField !== 'string'))
      throw new MongoCommandError(
        'FailedToParse',
        "$lookup requires both or neither of 'localField' and 'foreignField' to be specified",
      );
    const pipeline = spec.pipeline as Document[] | undefined;
    if (!hasKeys && pipeline === undefined)
      throw new MongoCommandError(
        'FailedToParse',
        "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified",
      );
    let foreign: Document[];
    if (spec.from === undefined) foreign = [];
    else {
      if (typeof spec.from !== 'string')
        throw new MongoCommandError('FailedToParse', "$lookup 'from' must be a string");
      const resolver = options.collectionResolver;
      foreign = resolver ? (resolver(spec.from) as Document[]) : [];
    }
    const collator = collatorFrom(options);
    const letSpec = isPlainObject(spec.let) ? spec.let : undefined;
    return coll.map((obj: Document) => {
      let joined = foreign;
      if (hasKeys) {
        // The local values: an array's elements (not the array itself), missing as null.
        const values = expandedValues(obj, spec.localField as string);
        joined = foreign.filter((f) =>
          matchesIn(pathCandidates(f, spec.foreignField as string), values, collator),
        );
      }
      if (pipeline !== undefined) {
        const vars = letSpec ? (evalExpr(obj, letSpec, options) as Document) : {};
        joined = new BaseAggregator(pipeline, withVariables(options, vars)).run(joined);
      }
      const out = { ...obj };
      setPath(out, spec.as as string, joined);
      return out;
    });
  },
};

// ---- the context ----

/** The aggregation stages mingo (with the overrides above) can run. */
export const PIPELINE_STAGES: ReadonlySet<string> = new Set([
  ...Object.keys(pipelineOperators),
  ...Object.keys(PIPELINE_OVERRIDES),
]);

const CONTEXT = Context.init({
  accumulator: { ...accumulatorOperators, ...ACCUMULATOR_OVERRIDES } as never,
  expression: { ...expressionOperators, ...EXPRESSION_OVERRIDES } as never,
  pipeline: { ...pipelineOperators, ...PIPELINE_OVERRIDES } as never,
  projection: projectionOperators as never,
  query: { ...queryOperators, ...QUERY_OVERRIDES } as never,
  window: windowOperators as never,
});

/**
 * mingo copies a context's whole operator table into each Query or Aggregator built from plain
 * options (ComputeOptions.init calls Context.from), and that copy was most of the cost of
 * compiling a checkout command's filter. Options that already are a ComputeOptions are taken as
 * they are, each query getting its own locals (its $$NOW) from them. mingo does not export the
 * class, so it is loaded from the module of the package that mingo/query itself loads.
 */
const { ComputeOptions } = createRequire(require.resolve('mingo/query'))('./core/_internal') as {
  ComputeOptions: { init(options: Partial<Options>): Options };
};

/** The options of every command without a collation, variables or a collection resolver. */
const PLAIN_OPTIONS: Partial<Options> = ComputeOptions.init({
  context: CONTEXT,
  jsonSchemaValidator: compileJsonSchema,
} as Partial<Options>);

export function mingoOptions(opts: MatchOptions = {}): Partial<Options> {
  if (!opts.collation && !opts.variables && !opts.collectionResolver) return PLAIN_OPTIONS;
  const out: Record<string, unknown> = {
    context: CONTEXT,
    jsonSchemaValidator: compileJsonSchema,
  };
  if (opts.collation) out.collation = opts.collation;
  if (opts.variables) out.variables = opts.variables;
  if (opts.collectionResolver) out.collectionResolver = opts.collectionResolver;
  return out as Partial<Options>;
}

export class Query extends BaseQuery {
  constructor(filter: Document, opts: MatchOptions = {}) {
    super(filter, mingoOptions(opts));
  }
}

export class Aggregator extends BaseAggregator {
  constructor(pipeline: Document[], opts: MatchOptions = {}) {
    super(pipeline, mingoOptions(opts));
  }
}

/** Evaluates command-level `let` (constants; $$NOW and friends allowed). */
export function evaluateLet(spec: unknown): Document | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec))
    throw new MongoCommandError(
      'TypeMismatch',
      "BSON field 'let' is the wrong type, expected type 'object'",
    );
  const out: Document = {};
  for (const [k, v] of Object.entries(spec)) {
    // mongod's rules for user variable names (variables.cpp).
    if (k === '')
      throw new MongoCommandError('Location16866', 'empty variable names are not allowed');
    if (!/^[a-z\u0080-\uffff]/.test(k))
      throw new MongoCommandError(
        'Location16867',
        `'${k}' starts with an invalid character for a user variable name`,
      );
    const bad = /[^\w\u0080-\uffff]/.exec(k);
    if (bad)
      throw new MongoCommandError(
        'Location16868',
        `'${k}' contains an invalid character for a variable name: '${bad[0]}'`,
      );
    out[k] = evalExpr({}, v, mingoOptions() as Options);
  }
  return out;
}
