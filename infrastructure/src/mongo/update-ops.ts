import { Long, Timestamp, type Document } from 'bson';
import type { Collation } from './collation';
import {
  arith,
  bsonTypeNumber,
  Canon,
  canonicalType,
  compareValues,
  isLong,
  toInteger,
  zeroLike,
} from './compare';
import { MongoCommandError } from './errors';
import {
  cloneDocument,
  formatValue,
  isOperatorObject,
  isPlainObject,
  ownField,
  setOwnField,
} from './keys';
import { Query, sortDocs, sortSpecOf, type MatchOptions } from './matching';

// Update operators ($set, $inc, $push...) applied the way mongod applies them: paths are
// checked for conflicts first (40), positional `$`, `$[]` and `$[<id>]` are resolved against
// the query and the array filters, and every operator checks the types it works on.

export interface UpdateContext {
  /** The statement's filter (positional `$` finds its element through it). */
  filter: Document;
  arrayFilters?: Document[];
  collation?: Collation;
  variables?: Document;
  /** An upsert inserting: `$setOnInsert` applies. */
  inserting: boolean;
}

const OPERATORS = new Set([
  '$set',
  '$setOnInsert',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$currentDate',
  '$push',
  '$addToSet',
  '$pop',
  '$pull',
  '$pullAll',
  '$bit',
]);

const TYPE_NAMES: Record<number, string> = {
  1: 'double',
  2: 'string',
  3: 'object',
  4: 'array',
  5: 'binData',
  6: 'undefined',
  7: 'objectId',
  8: 'bool',
  9: 'date',
  10: 'null',
  11: 'regex',
  13: 'javascript',
  14: 'symbol',
  15: 'javascriptWithScope',
  16: 'int',
  17: 'timestamp',
  18: 'long',
  19: 'decimal',
  [-1]: 'minKey',
  127: 'maxKey',
};

export function typeName(v: unknown): string {
  return TYPE_NAMES[bsonTypeNumber(v)] ?? 'object';
}

function bad(message: string): MongoCommandError {
  return new MongoCommandError('BadValue', message);
}

/** `{ a: 1 }` as mongod prints a small document in messages. */
function shown(field: string, v: unknown): string {
  return `{${field}: ${formatValue(v)}}`;
}

function idOf(doc: Document): string {
  return shown('_id', doc._id);
}

interface Entry {
  op: string;
  path: string;
  parts: string[];
  arg: unknown;
}

// ---- parsing ----

function validatePath(path: string): string[] {
  if (path === '')
    throw new MongoCommandError('EmptyFieldName', 'An empty update path is not valid.');
  const parts = path.split('.');
  if (parts.some((p) => p === ''))
    throw new MongoCommandError(
      'EmptyFieldName',
      `The update path '${path}' contains an empty field name, which is not allowed.`,
    );
  if (parts.filter((p) => p === '$').length > 1)
    throw bad(`Too many positional (i.e. '$') elements found in path '${path}'`);
  for (const p of parts) {
    if (p.startsWith('$') && p !== '$' && !/^\$\[[^\]]*\]$/.test(p))
      throw new MongoCommandError(
        'DollarPrefixedFieldName',
        `The dollar ($) prefixed field '${p}' in '${path}' is not valid for storage.`,
      );
    const id = /^\$\[([^\]]*)\]$/.exec(p)?.[1];
    if (id !== undefined && id !== '' && !/^[a-z][a-zA-Z0-9]*$/.test(id))
      throw bad(
        `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${id}'`,
      );
  }
  return parts;
}

/** A trie of the paths an update touches, for mongod's ConflictingUpdateOperators (40). */
class PathTrie {
  private readonly root = new Map<string, TrieNode>();

  add(path: string, parts: string[]): void {
    let level = this.root;
    for (let i = 0; i < parts.length; i++) {
      let node = level.get(parts[i]);
      const last = i === parts.length - 1;
      if (node?.leaf || (last && node))
        throw new MongoCommandError(
          'ConflictingUpdateOperators',
          `Updating the path '${path}' would create a conflict at '${parts.slice(0, i + 1).join('.')}'`,
        );
      if (!node) level.set(parts[i], (node = { leaf: last, children: new Map() }));
      level = node.children;
    }
  }
}

interface TrieNode {
  leaf: boolean;
  children: Map<string, TrieNode>;
}

function parseEntries(update: Document): Entry[] {
  const entries: Entry[] = [];
  const trie = new PathTrie();
  for (const [op, spec] of Object.entries(update)) {
    if (!OPERATORS.has(op))
      throw new MongoCommandError(
        'FailedToParse',
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    if (!isPlainObject(spec))
      throw new MongoCommandError(
        'FailedToParse',
        `Modifiers operate on fields but we found type ${typeName(spec)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${formatValue(spec)}}`,
      );
    for (const [path, arg] of Object.entries(spec)) {
      const parts = validatePath(path);
      checkArgument(op, path, arg);
      if (op === '$rename') {
        const to = arg as string;
        const toParts = validatePath(to);
        if (parts.some((p) => p.startsWith('$')))
          throw bad(`The source field for $rename may not be dynamic: ${path}`);
        if (toParts.some((p) => p.startsWith('$')))
          throw bad(`The destination field for $rename may not be dynamic: ${to}`);
        if (to === path)
          throw bad(`The source and target field for $rename must differ: ${path}: "${to}"`);
        if (to.startsWith(`${path}.`) || path.startsWith(`${to}.`))
          throw bad(
            `The source and target field for $rename must not be on the same path: ${path}: "${to}"`,
          );
        trie.add(path, parts);
        trie.add(to, toParts);
        entries.push({ op, path, parts, arg: toParts });
        continue;
      }
      trie.add(path, parts);
      entries.push({ op, path, parts, arg });
    }
  }
  return entries;
}

function checkArgument(op: string, path: string, arg: unknown): void {
  switch (op) {
    case '$inc':
    case '$mul':
      if (canonicalType(arg) !== Canon.Number)
        throw new MongoCommandError(
          'TypeMismatch',
          `Cannot ${op === '$inc' ? 'increment' : 'multiply'} with non-numeric argument: ${shown(path, arg)}`,
        );
      break;
    case '$rename':
      if (typeof arg !== 'string')
        throw bad(`The 'to' field for $rename must be a string: ${path}: ${formatValue(arg)}`);
      break;
    case '$pop': {
      const n = Number(arg);
      if (canonicalType(arg) !== Canon.Number || (n !== 1 && n !== -1))
        throw new MongoCommandError(
          'FailedToParse',
          `$pop expects 1 or -1, found: ${formatValue(arg)}`,
        );
      break;
    }
    case '$pullAll':
      if (!Array.isArray(arg))
        throw bad(`$pullAll requires an array argument but was given a ${typeName(arg)}`);
      break;
    case '$currentDate':
      if (typeof arg === 'boolean') break;
      if (
        !isPlainObject(arg) ||
        Object.keys(arg).length !== 1 ||
        (arg.$type !== 'date' && arg.$type !== 'timestamp')
      ) {
        if (isPlainObject(arg))
          throw bad(
            "The '$type' string field is required to be 'date' or 'timestamp': {$currentDate: {field : {$type: 'date'}}}",
          );
        throw bad(
          `${path}: ${formatValue(arg)} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({$type: 'timestamp/date'}).`,
        );
      }
      break;
    case '$bit': {
      if (!isPlainObject(arg) || Object.keys(arg).length === 0)
        throw bad(
          `The $bit modifier is not compatible with a ${typeName(arg)}. You must pass in an embedded document: {$bit: {field: {and/or/xor: #}}.`,
        );
      for (const [k, v] of Object.entries(arg)) {
        if (k !== 'and' && k !== 'or' && k !== 'xor')
          throw bad(
            `The $bit modifier only supports 'and', 'or', and 'xor', not '${k}' which is an unknown operator: {${k}: ${formatValue(v)}}`,
          );
        if (toInteger(v) === undefined)
          throw bad(
            `The $bit modifier field must be an Integer(32/64 bit); a '${typeName(v)}' is not supported here: {${k}: ${formatValue(v)}}`,
          );
      }
      break;
    }
    case '$push':
    case '$addToSet':
      if (isPlainObject(arg) && '$each' in arg) {
        if (!Array.isArray(arg.$each))
          throw bad(
            `The argument to $each in ${op} must be an array but it was of type: ${typeName(arg.$each)}`,
          );
        for (const k of Object.keys(arg)) {
          if (op === '$addToSet' && k !== '$each')
            throw bad(`Found unexpected fields after $each in $addToSet: ${formatValue(arg)}`);
          if (!['$each', '$slice', '$sort', '$position'].includes(k))
            throw bad(`Unrecognized clause in $push: ${k}`);
        }
        if (arg.$slice !== undefined && toInteger(arg.$slice) === undefined)
          throw bad(
            `The value for $slice must be an integer value but was given type: ${typeName(arg.$slice)}`,
          );
        if (arg.$position !== undefined && toInteger(arg.$position) === undefined)
          throw bad(
            `The value for $position must be an integer value, not of type: ${typeName(arg.$position)}`,
          );
        if (arg.$sort !== undefined) {
          const s = arg.$sort;
          const n = typeof s === 'number' ? s : NaN;
          if (!isPlainObject(s) && n !== 1 && n !== -1)
            throw bad(
              'The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields',
            );
          if (isPlainObject(s)) {
            if (Object.keys(s).length === 0)
              throw bad('The $sort pattern is empty when it should be a set of fields.');
            sortSpecOf(s);
          }
        }
      }
      break;
    default:
  }
}

// ---- positional ----

/** The filter's conditions on an array path (and its sub-paths), also inside a top-level $and. */
function conditionsOn(filter: Document, arrayPath: string): Document[] {
  const out: Document[] = [];
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and' && Array.isArray(v)) {
      for (const clause of v)
        if (isPlainObject(clause)) out.push(...conditionsOn(clause, arrayPath));
    } else if (k === arrayPath || k.startsWith(`${arrayPath}.`)) out.push({ [k]: v });
  }
  return out;
}

function probe(arrayPath: string, element: unknown): Document {
  const doc: Document = {};
  const parts = arrayPath.split('.');
  let cur = doc;
  for (const p of parts.slice(0, -1)) cur = cur[p] = {};
  cur[parts[parts.length - 1]] = [element];
  return doc;
}

/**
 * The index of the array element the positional `$` stands for: the first element of the
 * array at `arrayPath` that the query's conditions on that array match.
 */
export function positionalIndex(
  array: unknown[],
  filter: Document,
  arrayPath: string,
  opts: MatchOptions,
): number | undefined {
  const conditions = conditionsOn(filter, arrayPath);
  if (conditions.length === 0) return undefined;
  const queries = conditions.map((c) => new Query(c, opts));
  for (let i = 0; i < array.length; i++) {
    const p = probe(arrayPath, array[i]);
    if (queries.every((q) => q.test(p))) return i;
  }
  // Conditions met by different elements: mongod reports the element the last one matched.
  const last = queries[queries.length - 1];
  for (let i = 0; i < array.length; i++) if (last.test(probe(arrayPath, array[i]))) return i;
  return undefined;
}

// ---- paths in a document ----

function getIn(container: unknown, key: string): unknown {
  if (Array.isArray(container)) return /^\d+$/.test(key) ? container[Number(key)] : undefined;
  if (isPlainObject(container)) return ownField(container, key);
  return undefined;
}

function getAt(doc: Document, parts: string[]): unknown {
  let cur: unknown = doc;
  for (const p of parts) {
    cur = getIn(cur, p);
    if (cur === undefined) return undefined;
  }
  return cur;
}

function shortForm(v: unknown): string {
  if (Array.isArray(v)) return `[ ${v.map((x) => formatValue(x)).join(', ')} ]`;
  return formatValue(v);
}

/**
 * The container holding the last component of a concrete path, created on the way when
 * `create` (as $set does); undefined when a part is missing and not created.
 */
function parentOf(
  doc: Document,
  parts: string[],
  create: boolean,
): { container: Document | unknown[]; key: string } | undefined {
  let cur: Document | unknown[] = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i];
    let next: unknown;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(part)) {
        if (!create) return undefined;
        throw new MongoCommandError(
          'PathNotViable',
          `Cannot create field '${part}' in element {${parts[i - 1] ?? ''}: ${shortForm(cur)}}`,
        );
      }
      next = cur[Number(part)];
    } else next = ownField(cur, part);
    if (next === undefined || next === null) {
      if (!create) return undefined;
      if (next === null && !Array.isArray(cur)) {
        throw new MongoCommandError(
          'PathNotViable',
          `Cannot create field '${parts[i + 1]}' in element {${part}: null}`,
        );
      }
      const made: Document = {};
      if (Array.isArray(cur)) {
        const idx = Number(part);
        if (next === null) {
          throw new MongoCommandError(
            'PathNotViable',
            `Cannot create field '${parts[i + 1]}' in element {${part}: null}`,
          );
        }
        while (cur.length < idx) cur.push(null);
        cur[idx] = made;
      } else setOwnField(cur, part, made);
      next = made;
    } else if (!isPlainObject(next) && !Array.isArray(next)) {
      if (!create) return undefined;
      throw new MongoCommandError(
        'PathNotViable',
        `Cannot create field '${parts[i + 1]}' in element {${part}: ${formatValue(next)}}`,
      );
    }
    cur = next as Document | unknown[];
  }
  const key = parts[parts.length - 1];
  if (Array.isArray(cur) && !/^\d+$/.test(key)) {
    if (!create) return undefined;
    throw new MongoCommandError(
      'PathNotViable',
      `Cannot create field '${key}' in element {${parts[parts.length - 2] ?? ''}: ${shortForm(cur)}}`,
    );
  }
  return { container: cur, key };
}

function getFrom(container: Document | unknown[], key: string): unknown {
  return Array.isArray(container) ? container[Number(key)] : ownField(container, key);
}

function setInto(container: Document | unknown[], key: string, value: unknown): void {
  if (Array.isArray(container)) {
    const idx = Number(key);
    while (container.length < idx) container.push(null);
    container[idx] = value;
  } else setOwnField(container, key, value);
}

/** Expands `$`, `$[]` and `$[<id>]` into the concrete paths they stand for in this document. */
function expand(
  doc: Document,
  entry: Entry,
  ctx: UpdateContext,
  opts: MatchOptions,
  filters: Map<string, Query>,
  used: Set<string>,
): string[][] {
  const out: string[][] = [];
  const go = (prefix: string[], i: number): void => {
    if (i === entry.parts.length) {
      out.push(prefix);
      return;
    }
    const part = entry.parts[i];
    if (!part.startsWith('$')) {
      go([...prefix, part], i + 1);
      return;
    }
    const array = getAt(doc, prefix);
    if (part === '$') {
      if (ctx.inserting || !Array.isArray(array))
        throw bad('The positional operator did not find the match needed from the query.');
      const idx = positionalIndex(array, ctx.filter, prefix.join('.'), opts);
      if (idx === undefined)
        throw bad('The positional operator did not find the match needed from the query.');
      go([...prefix, String(idx)], i + 1);
      return;
    }
    const id = part.slice(2, -1);
    if (array === undefined) {
      if (ctx.inserting) return;
      throw bad(
        `The path '${prefix.join('.')}' must exist in the document in order to apply array updates.`,
      );
    }
    if (!Array.isArray(array))
      throw bad(
        `Cannot apply array updates to non-array element ${prefix[prefix.length - 1]}: ${formatValue(array)}`,
      );
    let filter: Query | undefined;
    if (id !== '') {
      filter = filters.get(id);
      if (!filter)
        throw bad(`No array filter found for identifier '${id}' in path '${entry.path}'`);
      used.add(id);
    }
    array.forEach((el, idx) => {
      if (!filter || filter.test({ [id]: el })) go([...prefix, String(idx)], i + 1);
    });
  };
  go([], 0);
  return out;
}

// ---- applying ----

function applyAt(
  doc: Document,
  op: string,
  parts: string[],
  arg: unknown,
  ctx: UpdateContext,
): void {
  const field = parts.join('.');
  const collator = ctx.collation?.collator;
  switch (op) {
    case '$setOnInsert':
    case '$set': {
      const at = parentOf(doc, parts, true)!;
      setInto(at.container, at.key, cloneValue(arg));
      return;
    }
    case '$unset': {
      const at = parentOf(doc, parts, false);
      if (!at) return;
      if (Array.isArray(at.container)) {
        const idx = Number(at.key);
        if (idx < at.container.length) at.container[idx] = null;
      } else delete at.container[at.key];
      return;
    }
    case '$inc':
    case '$mul': {
      const at = parentOf(doc, parts, true)!;
      const current = getFrom(at.container, at.key);
      if (current === undefined) {
        setInto(at.container, at.key, op === '$inc' ? arg : zeroLike(arg));
        return;
      }
      if (canonicalType(current) !== Canon.Number)
        throw new MongoCommandError(
          'TypeMismatch',
          `Cannot apply ${op} to a value of non-numeric type. ${idOf(doc)} has the field '${at.key}' of non-numeric type ${typeName(current)}`,
        );
      const result = arith(op === '$inc' ? 'add' : 'multiply', current, arg);
      if (result === undefined)
        throw bad(
          `Failed to apply ${op} operations to current value (${isLong(current) ? `(NumberLong)${current.toString()}` : formatValue(current)}) for document ${idOf(doc)}`,
        );
      setInto(at.container, at.key, result);
      return;
    }
    case '$min':
    case '$max': {
      const at = parentOf(doc, parts, true)!;
      const current = getFrom(at.container, at.key);
      const c = current === undefined ? 0 : compareValues(arg, current, collator);
      if (current === undefined || (op === '$min' ? c < 0 : c > 0))
        setInto(at.container, at.key, cloneValue(arg));
      return;
    }
    case '$currentDate': {
      const at = parentOf(doc, parts, true)!;
      const now = new Date();
      const ts = isPlainObject(arg) && arg.$type === 'timestamp';
      setInto(
        at.container,
        at.key,
        ts ? new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 }) : now,
      );
      return;
    }
    case '$push':
    case '$addToSet': {
      const at = parentOf(doc, parts, true)!;
      let current = getFrom(at.container, at.key);
      if (current === undefined) {
        current = [];
        setInto(at.container, at.key, current);
      } else if (!Array.isArray(current)) {
        if (op === '$push')
          throw bad(
            `The field '${field}' must be an array but is of type ${typeName(current)} in document ${idOf(doc)}`,
          );
        throw bad(
          `Cannot apply $addToSet to non-array field. Field named '${at.key}' has non-array type ${typeName(current)}`,
        );
      }
      const list = current as unknown[];
      const each = isPlainObject(arg) && '$each' in arg ? (arg.$each as unknown[]) : [arg];
      if (op === '$addToSet') {
        for (const v of each)
          if (!list.some((x) => compareValues(x, v, collator) === 0)) list.push(cloneValue(v));
        return;
      }
      const mods = isPlainObject(arg) && '$each' in arg ? arg : {};
      const values = each.map(cloneValue);
      if (mods.$position !== undefined) {
        let pos = Number(toInteger(mods.$position));
        if (pos < 0) pos = Math.max(0, list.length + pos);
        list.splice(Math.min(pos, list.length), 0, ...values);
      } else list.push(...values);
      if (mods.$sort !== undefined) {
        const sorted = isPlainObject(mods.$sort)
          ? sortDocs(list, sortSpecOf(mods.$sort), collator)
          : [...list].sort((a, b) => compareValues(a, b, collator) * (mods.$sort as number));
        list.splice(0, list.length, ...sorted);
      }
      if (mods.$slice !== undefined) {
        const n = Number(toInteger(mods.$slice));
        const kept = n >= 0 ? list.slice(0, n) : list.slice(Math.max(0, list.length + n));
        list.splice(0, list.length, ...kept);
      }
      return;
    }
    case '$pop': {
      const at = parentOf(doc, parts, false);
      if (!at) return;
      const current = getFrom(at.container, at.key);
      if (current === undefined) return;
      if (!Array.isArray(current))
        throw new MongoCommandError(
          'TypeMismatch',
          `Path '${field}' contains an element of non-array type '${typeName(current)}'`,
        );
      if (Number(arg) === 1) current.pop();
      else current.shift();
      return;
    }
    case '$pull':
    case '$pullAll': {
      const at = parentOf(doc, parts, false);
      if (!at) return;
      const current = getFrom(at.container, at.key);
      if (current === undefined) return;
      if (!Array.isArray(current)) throw bad('Cannot apply $pull to a non-array value');
      const remove =
        op === '$pullAll'
          ? (el: unknown) => (arg as unknown[]).some((v) => compareValues(el, v, collator) === 0)
          : pullMatcher(arg, ctx);
      const kept = current.filter((el) => !remove(el));
      current.splice(0, current.length, ...kept);
      return;
    }
    case '$bit': {
      const at = parentOf(doc, parts, true)!;
      const current = getFrom(at.container, at.key) ?? 0;
      const base = toInteger(current);
      if (base === undefined)
        throw bad(
          `Cannot apply $bit to a value of non-integral type.${idOf(doc)} has the field ${at.key} of non-integer type ${typeName(current)}`,
        );
      const int32 = (n: bigint): boolean => n >= -(2n ** 31n) && n < 2n ** 31n;
      let r = base;
      let wide = isLong(current) || !int32(base);
      for (const [k, v] of Object.entries(arg as Document)) {
        const n = toInteger(v)!;
        wide ||= isLong(v) || !int32(n);
        r = k === 'and' ? r & n : k === 'or' ? r | n : r ^ n;
      }
      const r64 = BigInt.asIntN(64, r);
      let result: unknown = Number(BigInt.asIntN(32, r));
      if (wide) result = Number.isSafeInteger(Number(r64)) ? Number(r64) : Long.fromBigInt(r64);
      setInto(at.container, at.key, result);
      return;
    }
    default:
  }
}

function cloneValue(v: unknown): unknown {
  return isPlainObject(v) || Array.isArray(v) ? cloneDocument({ v }).v : v;
}

/** $pull's condition: a value (equality), an operator expression, or a query on document elements. */
function pullMatcher(cond: unknown, ctx: UpdateContext): (el: unknown) => boolean {
  const opts: MatchOptions = { collation: ctx.collation, variables: ctx.variables };
  const collator = ctx.collation?.collator;
  if (isPlainObject(cond) && Object.keys(cond).length > 0) {
    if (isOperatorObject(cond) && !['$and', '$or', '$nor'].includes(Object.keys(cond)[0])) {
      const q = new Query({ v: cond }, opts);
      return (el) => q.test({ v: el });
    }
    const q = new Query(cond, opts);
    return (el) => isPlainObject(el) && q.test(el);
  }
  if (cond instanceof RegExp) return (el) => typeof el === 'string' && cond.test(el);
  return (el) => compareValues(el, cond, collator) === 0;
}

/**
 * Applies update operators to `doc` in place (pass a copy). Throws mongod's errors: unknown
 * modifier (9), conflicting paths (40), type mismatches (14), non-array targets (2)...
 * Answers the top-level fields the update names (a rename's both ends): every other field of
 * the copy keeps the original's value.
 */
export function applyOperators(
  doc: Document,
  update: Document,
  ctx: UpdateContext,
): ReadonlySet<string> {
  const entries = parseEntries(update);
  const named = new Set<string>();
  for (const e of entries) {
    named.add(e.parts[0]);
    if (e.op === '$rename') named.add((e.arg as string[])[0]);
  }
  const opts: MatchOptions = { collation: ctx.collation, variables: ctx.variables };
  const filters = new Map<string, Query>();
  for (const f of ctx.arrayFilters ?? []) {
    if (!isPlainObject(f))
      throw new MongoCommandError('TypeMismatch', 'Each array filter must be an object');
    const ids = new Set(Object.keys(f).map((k) => k.split('.')[0]));
    if (ids.size !== 1)
      throw new MongoCommandError(
        'FailedToParse',
        `Error parsing array filter :: caused by :: Expected a single top-level field name, found ${[...ids].map((i) => `'${i}'`).join(' and ')}`,
      );
    const id = [...ids][0];
    if (filters.has(id))
      throw new MongoCommandError(
        'FailedToParse',
        `Found multiple array filters with the same top-level field name ${id}`,
      );
    filters.set(id, new Query(f, opts));
  }
  const used = new Set<string>();
  // mongod applies the update tree in field-name order (new fields come out sorted).
  const ordered = entries
    .map((e, i) => ({ e, i }))
    .sort(
      (a, b) =>
        comparePaths(
          a.e.op === '$rename' ? (a.e.arg as string[]) : a.e.parts,
          b.e.op === '$rename' ? (b.e.arg as string[]) : b.e.parts,
        ) || a.i - b.i,
    )
    .map((x) => x.e);
  for (const entry of ordered) {
    if (entry.op === '$setOnInsert' && !ctx.inserting) {
      for (const p of entry.parts) if (/^\$\[(\w+)\]$/.test(p)) used.add(p.slice(2, -1));
      continue;
    }
    if (entry.op === '$rename') {
      rename(doc, entry.parts, entry.arg as string[]);
      continue;
    }
    for (const parts of expand(doc, entry, ctx, opts, filters, used))
      applyAt(doc, entry.op, parts, entry.arg, ctx);
  }
  for (const id of filters.keys())
    if (!used.has(id))
      throw new MongoCommandError(
        'FailedToParse',
        `The array filter for identifier '${id}' was not used in the update ${formatValue(update)}`,
      );
  return named;
}

function comparePaths(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    const na = /^\d+$/.test(a[i]);
    const nb = /^\d+$/.test(b[i]);
    if (na && nb) return Number(a[i]) - Number(b[i]);
    return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

function rename(doc: Document, from: string[], to: string[]): void {
  let cur: unknown = doc;
  for (let i = 0; i < from.length - 1; i++) {
    cur = getIn(cur, from[i]);
    if (Array.isArray(cur))
      throw bad(
        `The source field cannot be an array element, '${from.join('.')}' in doc with ${from.slice(0, i + 1).join('.')} set to [ ... ]`,
      );
    if (!isPlainObject(cur)) return;
  }
  const holder = cur as Document;
  const key = from[from.length - 1];
  if (!isPlainObject(holder) || !Object.prototype.hasOwnProperty.call(holder, key)) return;
  const value = holder[key];
  let dest: unknown = doc;
  for (let i = 0; i < to.length - 1; i++) {
    const next = getIn(dest, to[i]);
    if (Array.isArray(next))
      throw bad(
        `The destination field cannot be an array element, '${to.join('.')}' in doc with ${to.slice(0, i + 1).join('.')} set to [ ... ]`,
      );
    if (next === undefined) break;
    dest = next;
  }
  delete holder[key];
  const at = parentOf(doc, to, true)!;
  setInto(at.container, at.key, value);
}
