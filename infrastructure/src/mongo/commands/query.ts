import { EJSON, type Document } from 'bson';
import type { Collation } from '../collation';
import type { Collection } from '../collection';
import { MongoCommandError } from '../errors';
import { isPlainObject, setOwnField } from '../keys';
import { Query, sortDocs, sortSpecOf, type MatchOptions } from '../matching';
import { compileTextSearch } from '../text';
import { positionalIndex } from '../update-ops';
import { asDocument, nonNegative } from './args';

// The query engine of every read, and how updates and deletes find their targets.

export interface FindOptions {
  filter?: unknown;
  sort?: unknown;
  projection?: unknown;
  skip?: unknown;
  limit?: unknown;
  /** The effective collation (the command's, else the collection's default); undefined: simple. */
  collation?: Collation;
  /** Command-level `let` variables. */
  variables?: Document;
  /** Documents to search instead of the collection's (a view's result). */
  source?: Document[];
  /** How a failure is introduced in messages ("find command", "findAndModify"). */
  verb?: string;
}

interface FindResult {
  docs: Document[];
  examined: number;
  keysExamined: number;
  indexName?: string;
}

const SCORE_FIELD = '\u0000textScore';

/** Filter, sort, skip, limit and project, using an index for equality filters. */
export function runFind(coll: Collection | undefined, opts: FindOptions): FindResult {
  const filter = asDocument(opts.filter, 'filter');
  if (!coll && !opts.source) return { docs: [], examined: 0, keysExamined: 0 };
  const { $text, ...rest } = filter;
  const plan = opts.source
    ? { docs: opts.source, keysExamined: 0, exact: false, indexName: undefined }
    : coll!.plan(rest, opts.collation);
  const match: MatchOptions = { collation: opts.collation, variables: opts.variables };
  const query = plan.exact ? undefined : compileQuery(rest, match);
  const text =
    $text === undefined
      ? undefined
      : compileTextSearch(opts.source ? undefined : coll?.textIndex(), $text);
  let matched: Document[] = [];
  for (const doc of plan.docs) {
    if (coll) coll.docsExamined++;
    if (query && !query.test(doc)) continue;
    if (text) {
      const score = text.score(doc);
      if (score === undefined) continue;
      matched.push({ ...doc, [SCORE_FIELD]: score });
    } else matched.push(doc);
  }
  let sort =
    opts.sort === undefined || opts.sort === null ? undefined : asDocument(opts.sort, 'sort');
  let projection =
    opts.projection === undefined || opts.projection === null
      ? undefined
      : asDocument(opts.projection, 'projection');
  let scoreAs: string | undefined;
  if (sort) sort = replaceMeta(sort, () => -1);
  if (projection) {
    projection = replaceMeta(projection, (field) => {
      scoreAs = field;
      return 1;
    });
    if (scoreAs) {
      const inclusion = Object.entries(projection).some(
        ([k, v]) => k !== '_id' && k !== SCORE_FIELD && v !== 0 && v !== false,
      );
      if (!inclusion) delete projection[SCORE_FIELD];
    }
  }
  const skip = nonNegative(opts.skip, 'skip');
  const limit = Math.abs(Number(opts.limit ?? 0));
  if (hasKeys(sort)) matched = sortDocs(matched, sortSpecOf(sort), opts.collation?.collator);
  if (skip > 0 || limit > 0) matched = matched.slice(skip, limit > 0 ? skip + limit : undefined);
  if (hasKeys(projection))
    matched = project(matched, projection, filter, match, opts.verb ?? 'find command');
  if (text) matched = matched.map((d) => finishScore(d, scoreAs));
  return {
    docs: matched,
    examined: plan.docs.length,
    keysExamined: plan.keysExamined,
    indexName: plan.indexName,
  };
}

function isExclusionValue(v: unknown): boolean {
  if (v === false || v === 0) return true;
  // Long(0), Decimal128('0') and other numeric zeros.
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as { _bsontype?: string })._bsontype !== undefined &&
    Number(String(v)) === 0
  );
}

/**
 * Applies a projection: mingo's for plain inclusions, exclusions and computed fields; the
 * stand-in's for the positional `<array>.$` (the first element the query matched), `$slice`
 * (which leaves the projection's kind to the other fields) and `$elemMatch` (an inclusion).
 */
export function project(
  docs: Document[],
  projection: Document,
  filter: Document,
  match: MatchOptions,
  verb: string,
): Document[] {
  const fields = topLevelFields(projection);
  if (fields) return docs.map(fields);
  let mode: 'inclusion' | 'exclusion' | undefined;
  let arrayPath: string | undefined;
  const slices = new Map<string, number | [number, number]>();
  const elemMatches = new Map<string, Query>();
  const spec: Document = {};
  for (const [k, v] of Object.entries(projection)) {
    if (isPlainObject(v) && Object.keys(v).length === 1 && '$slice' in v) {
      slices.set(k, checkSlice(v.$slice));
      continue;
    }
    if (isPlainObject(v) && Object.keys(v).length === 1 && '$elemMatch' in v) {
      if (k.includes('.'))
        throw new MongoCommandError(
          'Location31275',
          'Cannot use $elemMatch projection on a nested field.',
        );
      if (!isPlainObject(v.$elemMatch))
        throw new MongoCommandError('BadValue', 'elemMatch: Invalid argument, object required.');
      elemMatches.set(k, new Query({ [k]: { $elemMatch: v.$elemMatch } }, match));
      // An $elemMatch projection is an inclusion (only _id and the field come back).
      if (mode === 'exclusion')
        throw new MongoCommandError(
          'Location31253',
          `Cannot do inclusion on field ${k} in exclusion projection`,
        );
      mode = 'inclusion';
      continue;
    }
    let field = k;
    if (k === '$' || k.endsWith('.$')) {
      if (arrayPath !== undefined || k === '$')
        throw new MongoCommandError(
          'Location31276',
          'Cannot specify more than one positional projection per query.',
        );
      if (isExclusionValue(v))
        throw new MongoCommandError(
          'Location31395',
          'positional projection cannot be used with exclusion',
        );
      arrayPath = field = k.slice(0, -2);
    }
    const kind = isExclusionValue(v) ? 'exclusion' : 'inclusion';
    if (field !== '_id') {
      if (mode && mode !== kind)
        throw new MongoCommandError(
          kind === 'exclusion' ? 'Location31254' : 'Location31253',
          `Cannot do ${kind} on field ${field} in ${mode} projection`,
        );
      mode = kind;
    }
    spec[field] = field === arrayPath ? 1 : v;
  }
  if (mode === 'inclusion') {
    for (const k of slices.keys()) spec[k] = 1;
    for (const k of elemMatches.keys()) spec[k] = 1;
  }
  const query = Object.keys(spec).length > 0 ? new Query({}, match) : undefined;
  return docs.map((doc) => {
    let out = query ? (query.find([doc], spec).all()[0] as Document) : { ...doc };
    if (arrayPath !== undefined) {
      const array = valueAt(doc, arrayPath);
      if (Array.isArray(array)) {
        const idx = positionalIndex(array, filter, arrayPath, match);
        if (idx === undefined)
          throw new MongoCommandError(
            'Location51246',
            `Executor error during ${verb} :: caused by :: positional operator '.$' couldn't find a matching element in the array`,
          );
        out = withValueAt(out, arrayPath, [array[idx]]);
      }
    }
    for (const [path, arg] of slices) {
      const array = valueAt(doc, path);
      if (Array.isArray(array)) out = withValueAt(out, path, slice(array, arg));
    }
    for (const [field, q] of elemMatches) {
      const array = doc[field];
      const hit = Array.isArray(array) ? array.find((el) => q.test({ [field]: [el] })) : undefined;
      if (hit === undefined) {
        if (field in out) {
          out = { ...out };
          delete out[field];
        }
      } else out = { ...out, [field]: [hit] };
    }
    return idFirst(out);
  });
}

/**
 * A projection that only names top-level fields with 0/1 or false/true (the usual one, and the
 * checkout's) as a function of the document, or undefined for anything else (paths, operators,
 * values that are expressions, a mix of inclusion and exclusion), which goes through mingo and
 * its checks. Same answer as that path, without a mingo cursor per document: _id first unless
 * excluded, the other fields in the document's order.
 */
function topLevelFields(projection: Document): ((doc: Document) => Document) | undefined {
  // `{}` is no projection at all (the general path copies the document).
  if (Object.keys(projection).length === 0) return undefined;
  const named = new Set<string>();
  let withId = true;
  let mode: 'inclusion' | 'exclusion' | undefined;
  for (const [k, v] of Object.entries(projection)) {
    if (typeof v !== 'number' && typeof v !== 'boolean') return undefined;
    if (k === '' || k.includes('.') || k.startsWith('$')) return undefined;
    const kind = isExclusionValue(v) ? 'exclusion' : 'inclusion';
    if (k === '_id') {
      withId = kind === 'inclusion';
      continue;
    }
    if (mode && mode !== kind) return undefined;
    mode = kind;
    named.add(k);
  }
  // Only `_id` named: `{ _id: 1 }` keeps it alone, `{ _id: 0 }` drops it alone.
  const keep = mode === 'inclusion' || (mode === undefined && withId);
  return (doc) => {
    const out: Document = {};
    if (withId && '_id' in doc) out._id = doc._id;
    for (const k of Object.keys(doc)) {
      // setOwnField: a field named __proto__ stays a field, never the answer's prototype.
      if (k !== '_id' && named.has(k) === keep) setOwnField(out, k, doc[k]);
    }
    return out;
  };
}

function checkSlice(arg: unknown): number | [number, number] {
  if (typeof arg === 'number' && Number.isInteger(arg)) return arg;
  if (
    Array.isArray(arg) &&
    arg.length === 2 &&
    arg.every((n) => typeof n === 'number' && Number.isInteger(n))
  ) {
    if ((arg[1] as number) <= 0)
      throw new MongoCommandError(
        'Location28724',
        'Second argument to $slice must be a positive number',
      );
    return [arg[0] as number, arg[1] as number];
  }
  throw new MongoCommandError(
    'Location28667',
    'Invalid $slice syntax. The given syntax did not match the find() syntax because :: Location31273: $slice only supports numbers and [skip, limit] arrays',
  );
}

function slice(array: unknown[], arg: number | [number, number]): unknown[] {
  if (typeof arg === 'number')
    return arg >= 0 ? array.slice(0, arg) : array.slice(Math.max(0, array.length + arg));
  const [skip, limit] = arg;
  const start = skip >= 0 ? Math.min(skip, array.length) : Math.max(0, array.length + skip);
  return array.slice(start, start + limit);
}

function valueAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const p of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function withValueAt(doc: Document, path: string, value: unknown): Document {
  const [head, ...tail] = path.split('.');
  if (tail.length === 0) return { ...doc, [head]: value };
  const inner = isPlainObject(doc[head]) ? doc[head] : {};
  return { ...doc, [head]: withValueAt(inner, tail.join('.'), value) };
}

// Building a mingo Query copies its whole operator table, which dominated the cost of a
// find; compiled queries are pure, so identical filters share one.
const QUERY_CACHE_SIZE = 500;
const queryCache = new Map<string, Query>();

export function compileQuery(filter: Document, match: MatchOptions = {}): Query {
  // Variables differ per command; $expr may read $$NOW, which a compiled query fixes at
  // first use: never share those.
  if (match.variables) return new Query(filter, match);
  let key: string;
  try {
    key = EJSON.stringify(filter, { relaxed: false });
  } catch {
    return new Query(filter, match);
  }
  if (/\$(expr|where|function)/.test(key)) return new Query(filter, match);
  if (match.collation) key += `|${match.collation.key}`;
  let query = queryCache.get(key);
  if (query) {
    // Refresh its position so the oldest-used entry is evicted first.
    queryCache.delete(key);
  } else {
    query = new Query(filter, match);
    if (queryCache.size >= QUERY_CACHE_SIZE)
      queryCache.delete(queryCache.keys().next().value as string);
  }
  queryCache.set(key, query);
  return query;
}

/** `{ f: { $meta: 'textScore' } }` → the hidden score field. */
function replaceMeta(spec: Document, onMeta: (field: string) => number): Document {
  const out: Document = {};
  for (const [k, v] of Object.entries(spec)) {
    if (isPlainObject(v) && v.$meta === 'textScore') out[SCORE_FIELD] = onMeta(k);
    else out[k] = v;
  }
  return out;
}

function finishScore(doc: Document, scoreAs: string | undefined): Document {
  if (!(SCORE_FIELD in doc)) return doc;
  const { [SCORE_FIELD]: score, ...rest } = doc;
  return scoreAs ? { ...rest, [scoreAs]: score } : rest;
}

export function idFirst(doc: Document): Document {
  if (!('_id' in doc) || Object.keys(doc)[0] === '_id') return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

/** The stored documents a filter matches (the targets of a write). */
export function matchFilter(
  coll: Collection,
  q: Document,
  collation?: Collation,
  variables?: Document,
): Document[] {
  return runFind(coll, { filter: q, collation, variables }).docs;
}

function hasKeys(d: Document | undefined): d is Document {
  return d !== undefined && Object.keys(d).length > 0;
}
