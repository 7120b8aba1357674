import { BSON, ObjectId, type Document } from 'bson';
import type { Collation } from '../collation';
import type { Collection } from '../collection';
import { MongoCommandError } from '../errors';
import {
  cloneDocument,
  formatValue,
  isOperatorObject,
  isPlainObject,
  setPath,
  valueKey,
} from '../keys';
import { Aggregator, sortDocs, sortSpecOf } from '../matching';
import { applyOperators } from '../update-ops';
import { validateDocument } from '../validation';
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

/** The `_id` a filter pins by equality (what a replacement upsert inserts under). */
function idFromFilter(filter: Document): unknown {
  const seed = seedFromFilter(filter);
  return seed._id;
}

/** An update document of operators (its first field is `$`-prefixed), as mongod decides. */
function isUpdateOperators(u: unknown): boolean {
  if (!isPlainObject(u)) return false;
  const first = Object.keys(u)[0];
  return first !== undefined && first.startsWith('$');
}

function immutableId(id: unknown): MongoCommandError {
  return new MongoCommandError(
    'ImmutableField',
    `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(id)}`,
  );
}

interface ApplyOptions {
  q: Document;
  arrayFilters?: Document[];
  collation?: Collation;
  variables?: Document;
  inserting: boolean;
}

/**
 * A document's new version (a copy; the stored one is untouched) and, for update operators,
 * the top-level fields they name: the others hold the old version's values, so the indexes
 * on them keep their keys (Collection.replace).
 */
interface Updated {
  next: Document;
  named?: ReadonlySet<string>;
}

/** Computes the new version of a document, or undefined when nothing changes. */
function applyUpdate(doc: Document, u: unknown, opts: ApplyOptions): Updated | undefined {
  if (Array.isArray(u)) {
    const [result] = new Aggregator(u as Document[], {
      collation: opts.collation,
      variables: opts.variables,
    }).run([cloneDocument(doc)]) as Document[];
    if (
      result._id !== undefined &&
      doc._id !== undefined &&
      valueKey(result._id) !== valueKey(doc._id)
    )
      throw immutableId(result._id);
    const next = idFirst({ ...result, _id: doc._id });
    return opts.inserting || !sameBson(doc, next) ? { next } : undefined;
  }
  if (!isPlainObject(u))
    throw new MongoCommandError('FailedToParse', 'update must be a document or a pipeline');
  if (isUpdateOperators(u)) {
    const next = cloneDocument(doc);
    const named = applyOperators(next, u as Document, {
      filter: opts.q,
      arrayFilters: opts.arrayFilters,
      collation: opts.collation,
      variables: opts.variables,
      inserting: opts.inserting,
    });
    if (valueKey(next._id) !== valueKey(doc._id)) {
      if (opts.inserting && doc._id === undefined) return { next: idFirst(next) };
      throw new MongoCommandError(
        'ImmutableField',
        "Performing an update on the path '_id' would modify the immutable field '_id'",
      );
    }
    return opts.inserting || !sameFields(doc, next, named)
      ? { next: idFirst(next), named }
      : undefined;
  }
  // Replacement document: keeps the _id.
  for (const k of Object.keys(u)) {
    if (k.startsWith('$'))
      throw new MongoCommandError(
        'DollarPrefixedFieldName',
        `The dollar ($) prefixed field '${k}' in '${k}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
  }
  if (u._id !== undefined && doc._id !== undefined && valueKey(u._id) !== valueKey(doc._id))
    throw immutableId(u._id);
  const { _id: _ignored, ...fields } = u;
  const next: Document = { _id: doc._id ?? u._id, ...cloneDocument(fields) };
  if (next._id === undefined) delete next._id;
  return opts.inserting || !sameBson(doc, next) ? { next } : undefined;
}

function sameBson(a: Document, b: Document): boolean {
  return Buffer.from(BSON.serialize(a)).equals(Buffer.from(BSON.serialize(b)));
}

/**
 * `sameBson` for a copy whose other top-level fields are the original's, in place: only the
 * named fields can differ, by presence or by value (an operator keeps a field where it is, and
 * adds one at the end). Spares serializing the whole document twice per update.
 */
function sameFields(a: Document, b: Document, fields: ReadonlySet<string>): boolean {
  for (const f of fields) {
    const inA = Object.prototype.hasOwnProperty.call(a, f);
    if (inA !== Object.prototype.hasOwnProperty.call(b, f)) return false;
    if (inA && !sameBson({ v: a[f] }, { v: b[f] })) return false;
  }
  return true;
}

export function arrayFiltersOf(v: unknown): Document[] | undefined {
  return Array.isArray(v) ? (v as Document[]) : undefined;
}

export interface UpdateOptions {
  multi: boolean;
  upsert: boolean;
  arrayFilters?: Document[];
  /** findAndModify's sort (the update command refuses `sort`, as MongoDB 7.0 does). */
  sort?: Document;
  collation?: Collation;
  variables?: Document;
  bypassValidation?: boolean;
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
  opts: UpdateOptions,
): UpsertResult {
  let targets = matchFilter(coll, q, opts.collation, opts.variables);
  if (opts.sort && targets.length > 1)
    targets = sortDocs(targets, sortSpecOf(opts.sort), opts.collation?.collator);
  if (!opts.multi) targets = targets.slice(0, 1);
  const apply = (doc: Document, inserting: boolean): Updated | undefined =>
    applyUpdate(doc, u, {
      q,
      arrayFilters: opts.arrayFilters,
      collation: opts.collation,
      variables: opts.variables,
      inserting,
    });
  if (targets.length === 0) {
    if (!opts.upsert) return { matched: 0, modified: 0 };
    let seed: Document;
    if (isUpdateOperators(u) || Array.isArray(u)) seed = seedFromFilter(q);
    else {
      // A replacement upsert takes only the filter's _id (mongod's rule), unless it has its own.
      seed = {};
      const id = idFromFilter(q);
      if (id !== undefined) {
        if (isPlainObject(u) && u._id !== undefined && valueKey(u._id) !== valueKey(id))
          throw immutableId(u._id);
        seed._id = id;
      }
    }
    let doc = apply(idFirst(seed), true)?.next ?? seed;
    if (doc._id === undefined) doc = { _id: new ObjectId(), ...doc };
    doc = idFirst(doc);
    validateDocument(coll, doc, undefined, opts.bypassValidation === true);
    coll.insert(doc);
    return { matched: 0, modified: 0, upsertedId: doc._id, after: doc };
  }
  let modified = 0;
  let before: Document | undefined;
  let after: Document | undefined;
  for (const doc of targets) {
    const updated = apply(doc, false);
    before = doc;
    after = updated?.next ?? doc;
    if (!updated) continue;
    validateDocument(coll, updated.next, doc, opts.bypassValidation === true);
    coll.replace(doc, updated.next, updated.named);
    modified++;
  }
  return { matched: targets.length, modified, before, after };
}
