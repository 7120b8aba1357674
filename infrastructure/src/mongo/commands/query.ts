import { EJSON, type Document } from 'bson';
import { Query, find as mingoFind } from 'mingo';
import type { Collection } from '../collection';
import { isPlainObject } from '../keys';
import { compileTextSearch } from '../text';
import { asDocument, nonNegative } from './args';

// The query engine of every read, and how updates and deletes find their targets.

export interface FindOptions {
  filter?: unknown;
  sort?: unknown;
  projection?: unknown;
  skip?: unknown;
  limit?: unknown;
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
  if (!coll) return { docs: [], examined: 0, keysExamined: 0 };
  const { $text, ...rest } = filter;
  const plan = coll.plan(rest);
  const query = plan.exact ? undefined : compileQuery(rest);
  const text = $text === undefined ? undefined : compileTextSearch(coll.textIndex(), $text);
  let matched: Document[] = [];
  for (const doc of plan.docs) {
    coll.docsExamined++;
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
  if (hasKeys(projection) || hasKeys(sort)) {
    let cursor = mingoFind(matched, {}, hasKeys(projection) ? projection : undefined);
    if (hasKeys(sort)) cursor = cursor.sort(sort);
    if (skip > 0) cursor = cursor.skip(skip);
    if (limit > 0) cursor = cursor.limit(limit);
    matched = cursor.all() as Document[];
  } else if (skip > 0 || limit > 0) {
    matched = matched.slice(skip, limit > 0 ? skip + limit : undefined);
  }
  if (text) matched = matched.map((d) => finishScore(d, scoreAs));
  if (hasKeys(projection)) matched = matched.map(idFirst);
  return {
    docs: matched,
    examined: plan.docs.length,
    keysExamined: plan.keysExamined,
    indexName: plan.indexName,
  };
}

// Building a mingo Query copies its whole operator table, which dominated the cost of a
// find; compiled queries are pure, so identical filters share one.
const QUERY_CACHE_SIZE = 500;
const queryCache = new Map<string, Query>();

function compileQuery(filter: Document): Query {
  let key: string;
  try {
    key = EJSON.stringify(filter, { relaxed: false });
  } catch {
    return new Query(filter, {});
  }
  // $expr may read $$NOW, which a compiled query fixes at first use: never share those.
  if (/\$(expr|where|function)/.test(key)) return new Query(filter, {});
  let query = queryCache.get(key);
  if (query) {
    // Refresh its position so the oldest-used entry is evicted first.
    queryCache.delete(key);
  } else {
    query = new Query(filter, {});
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
export function matchFilter(coll: Collection, q: Document): Document[] {
  return runFind(coll, { filter: q }).docs;
}

function hasKeys(d: Document | undefined): d is Document {
  return d !== undefined && Object.keys(d).length > 0;
}
