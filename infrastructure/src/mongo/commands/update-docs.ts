import { BSON, ObjectId, type Document } from 'bson';
import { Aggregator, find as mingoFind, update as mingoUpdate } from 'mingo';
import type { Collection } from '../collection';
import { MongoCommandError } from '../errors';
import { cloneDocument, isOperatorObject, isPlainObject, valueKey } from '../keys';
import { idFirst, matchFilter } from './query';

// The update engine shared by update and findAndModify: matching, upserting, applying operators.

/** The document an upsert starts from: the filter's equality conditions, as MongoDB does. */
function seedFromFilter(filter: Document, into: Document = {}): Document {
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and' && Array.isArray(v)) {
      for (const clause of v) if (isPlainObject(clause)) seedFromFilter(clause, into);
      continue;
    }
    if (k.startsWith('$')) continue;
    if (isOperatorObject(v)) {
      if ('$eq' in v) setPath(into, k, v.$eq);
      continue;
    }
    if (v instanceof RegExp) continue;
    setPath(into, k, v);
  }
  return into;
}

function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = doc;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(cur[part])) cur[part] = {};
    cur = cur[part] as Document;
  }
  cur[parts[parts.length - 1]] = value;
}

function isUpdateOperators(u: unknown): boolean {
  return isPlainObject(u) && Object.keys(u).some((k) => k.startsWith('$'));
}

/**
 * Computes the new version of a document (a copy; the stored one is untouched), or
 * undefined when nothing changes. Update operators are mingo's; `$setOnInsert` is
 * applied here because it depends on whether the write inserts.
 */
function applyUpdate(
  doc: Document,
  u: unknown,
  q: Document,
  arrayFilters: Document[] | undefined,
  inserting: boolean,
): Document | undefined {
  if (Array.isArray(u)) {
    const [result] = new Aggregator(u as Document[], {}).run([cloneDocument(doc)]) as Document[];
    const next = idFirst({ ...result, _id: doc._id });
    return inserting || !sameBson(doc, next) ? next : undefined;
  }
  if (!isPlainObject(u))
    throw new MongoCommandError('FailedToParse', 'update must be a document or a pipeline');
  if (isUpdateOperators(u)) {
    const { $setOnInsert, ...mods } = u as Document;
    if (Object.keys(u).some((k) => !k.startsWith('$'))) {
      throw new MongoCommandError(
        'FailedToParse',
        'Unknown modifier: update mixes operators and fields',
      );
    }
    if (inserting && isPlainObject($setOnInsert))
      mods.$set = { ...(mods.$set as Document | undefined), ...$setOnInsert };
    const next = cloneDocument(doc);
    if (Object.keys(mods).length === 0) return inserting ? next : undefined;
    primePushTargets(next, mods);
    let changed: string[];
    try {
      changed = mingoUpdate(next, mods, arrayFilters, inserting ? undefined : q);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message.includes("immutable field '_id'"))
        throw new MongoCommandError('ImmutableField', message);
      throw new MongoCommandError('BadValue', message);
    }
    if (!inserting && changed.length === 0) return undefined;
    if (valueKey(next._id) !== valueKey(doc._id)) {
      throw new MongoCommandError(
        'ImmutableField',
        "Performing an update on the path '_id' would modify the immutable field '_id'",
      );
    }
    return next;
  }
  // Replacement document: keeps the _id.
  if (u._id !== undefined && doc._id !== undefined && valueKey(u._id) !== valueKey(doc._id)) {
    throw new MongoCommandError(
      'ImmutableField',
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${String(u._id)}`,
    );
  }
  const { _id: _ignored, ...fields } = u;
  const next: Document = { _id: doc._id, ...fields };
  return inserting || !sameBson(doc, next) ? next : undefined;
}

/**
 * mingo ignores `$sort`/`$slice`/`$position` of a `$push` that creates the array; starting
 * from an empty array gives MongoDB's result.
 */
function primePushTargets(doc: Document, mods: Document): void {
  if (!isPlainObject(mods.$push)) return;
  for (const [path, spec] of Object.entries(mods.$push)) {
    if (path.includes('$') || !isPlainObject(spec) || !('$each' in spec)) continue;
    let cur: unknown = doc;
    const parts = path.split('.');
    for (const part of parts.slice(0, -1)) cur = isPlainObject(cur) ? cur[part] : undefined;
    if (cur === undefined || (isPlainObject(cur) && cur[parts[parts.length - 1]] === undefined))
      setPath(doc, path, []);
  }
}

function sameBson(a: Document, b: Document): boolean {
  return Buffer.from(BSON.serialize(a)).equals(Buffer.from(BSON.serialize(b)));
}

export function arrayFiltersOf(v: unknown): Document[] | undefined {
  return Array.isArray(v) ? (v as Document[]) : undefined;
}

interface UpsertResult {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  before?: Document;
  after?: Document;
}

/** One update statement (also the core of findAndModify). Synchronous: atomic per document. */
export function updateDocs(
  coll: Collection,
  q: Document,
  u: unknown,
  opts: { multi: boolean; upsert: boolean; arrayFilters?: Document[]; sort?: Document },
): UpsertResult {
  let targets = matchFilter(coll, q);
  if (opts.sort && targets.length > 1)
    targets = mingoFind(targets, {}).sort(opts.sort).all() as Document[];
  if (!opts.multi) targets = targets.slice(0, 1);
  if (targets.length === 0) {
    if (!opts.upsert) return { matched: 0, modified: 0 };
    const seed = isUpdateOperators(u) || Array.isArray(u) ? seedFromFilter(q) : {};
    if (isPlainObject(u) && !isUpdateOperators(u) && u._id !== undefined) seed._id = u._id;
    if (seed._id === undefined) seed._id = new ObjectId();
    const doc = idFirst(applyUpdate(idFirst(seed), u, q, opts.arrayFilters, true) ?? seed);
    coll.insert(doc);
    return { matched: 0, modified: 0, upsertedId: doc._id, after: doc };
  }
  let modified = 0;
  let before: Document | undefined;
  let after: Document | undefined;
  for (const doc of targets) {
    const next = applyUpdate(doc, u, q, opts.arrayFilters, false);
    before = doc;
    after = next ?? doc;
    if (!next) continue;
    coll.replace(doc, next);
    modified++;
  }
  return { matched: targets.length, modified, before, after };
}
