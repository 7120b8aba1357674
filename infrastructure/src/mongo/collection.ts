import { BSON, Binary, ObjectId, UUID, type Document } from 'bson';
import { parseCollation, sameCollation, type Collation } from './collation';
import { canonicalType, Canon, containsString } from './compare';
import { MongoCommandError, writeConflict } from './errors';
import {
  cloneDocument,
  formatValue,
  isOperatorObject,
  isPlainObject,
  valueKey,
  valuesAt,
} from './keys';
import { Canonicalizer, Query } from './matching';
import { NO_TRANSACTIONS, type Transaction, type TransactionHooks } from './transaction';

export const MAX_BSON_SIZE = 16 * 1024 * 1024;

/** Options every mingo call shares: strict MongoDB semantics, `$lookup` resolved by the caller. */
export type CollectionResolver = (name: string) => Document[];

export interface IndexSpec {
  name: string;
  key: Document;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Document;
  expireAfterSeconds?: number;
  [option: string]: unknown;
}

interface IndexKey {
  key: string;
  values: unknown[];
}

/**
 * A secondary index: a Map from the encoded key to the ids of the documents holding it,
 * so equality lookups and unique checks cost O(1) instead of a collection scan.
 */
export class Index {
  readonly fields: string[];
  readonly text: boolean;
  readonly entries = new Map<string, Set<string>>();
  /** The index's collation (undefined: simple); its string keys compare through it. */
  readonly collation?: Collation;
  private readonly partial?: Query;
  /** Keys of values holding strings under a collation (equal under it, one key). */
  private readonly canonical?: Canonicalizer;
  /**
   * A compound index's ids by the key of its first field alone: an equality on that field,
   * with a range or nothing on the others, reads these instead of the collection, as mongod
   * scans an index's prefix. Its keys are exact: a query whose collation compares strings
   * otherwise does not read them (Collection.leadingPlan).
   */
  readonly leading?: Map<string, Set<string>>;

  /** The top-level fields the keys, and the partial filter, are read from (null: any field). */
  private readonly roots: Set<string> | null;

  constructor(readonly spec: IndexSpec) {
    this.fields = Object.keys(spec.key);
    const filterRoots = spec.partialFilterExpression
      ? rootsOfFilter(spec.partialFilterExpression)
      : new Set<string>();
    this.roots = filterRoots && new Set([...this.fields.map(rootOf), ...filterRoots]);
    this.text = Object.values(spec.key).some((v) => v === 'text');
    this.collation = parseCollation(spec.collation);
    if (this.collation) this.canonical = new Canonicalizer(this.collation.collator);
    if (this.fields.length > 1 && !this.text) this.leading = new Map();
    if (spec.partialFilterExpression)
      this.partial = new Query(spec.partialFilterExpression, { collation: this.collation });
  }

  get name(): string {
    return this.spec.name;
  }

  get unique(): boolean {
    return this.spec.unique === true;
  }

  /** Usable for equality lookups: every document is in it under its exact values. */
  get complete(): boolean {
    return !this.spec.sparse && !this.partial && !this.text;
  }

  /** Whether a document's keys may differ once the given top-level fields changed. */
  readsAny(fields: ReadonlySet<string>): boolean {
    if (!this.roots) return true;
    for (const f of fields) if (this.roots.has(f)) return true;
    return false;
  }

  /** The keys a document is stored under (a multikey index yields one per array element). */
  keysOf(doc: Document): IndexKey[] {
    if (this.text) return [];
    if (this.partial && !this.partial.test(doc)) return [];
    const perField = this.fields.map((f) => valuesAt(doc, f));
    if (this.spec.sparse && perField.every((vals) => vals.every((v) => v === undefined))) return [];
    const out = new Map<string, IndexKey>();
    for (const values of cartesian(perField)) {
      const key = this.keyFor(values);
      out.set(key, { key, values });
    }
    return [...out.values()];
  }

  /**
   * The key of a tuple of values: equal for values the index considers equal (under its
   * collation, strings equal at its strength share one key). `lookupOnly` does not register
   * a new class of equal values.
   */
  keyFor(values: unknown[], lookupOnly = false): string {
    if (this.canonical && values.some(containsString))
      return this.canonical.key(values.length === 1 ? values[0] : values, lookupOnly);
    return values.length === 1 ? valueKey(values[0]) : JSON.stringify(values.map(valueKey));
  }

  /** Files a document under its keys (all of them: `keysOf`). */
  add(id: string, keys: IndexKey[]): void {
    for (const { key, values } of keys) {
      addTo(this.entries, key, id);
      if (this.leading) addTo(this.leading, valueKey(values[0]), id);
    }
  }

  /**
   * Moves a document from its old keys to its new ones. A key in both stays where it is: taking
   * it out first would let a collation forget the class of equal strings the key stands for
   * while the document still holds it, and the next equal string would get a class of its own.
   */
  move(id: string, from: IndexKey[], to: IndexKey[]): void {
    const kept = new Set(to.map((k) => k.key));
    this.remove(
      id,
      from.filter((k) => !kept.has(k.key)),
    );
    this.add(id, to);
  }

  /** Takes a document out of its keys (all of them: `keysOf` of the stored version). */
  remove(id: string, keys: IndexKey[]): void {
    for (const { key, values } of keys) {
      if (removeFrom(this.entries, key, id)) this.canonical?.forget(key);
      if (this.leading) removeFrom(this.leading, valueKey(values[0]), id);
    }
  }
}

const rootOf = (path: string) => path.split('.')[0];

/**
 * The top-level fields a partial filter reads: field names, under $and/$or/$nor. Anything
 * else ($expr, $where...) may read any field: null.
 */
function rootsOfFilter(filter: unknown): Set<string> | null {
  if (!isPlainObject(filter)) return null;
  const out = new Set<string>();
  for (const [key, value] of Object.entries(filter)) {
    if (!key.startsWith('$')) {
      out.add(rootOf(key));
      continue;
    }
    if (!['$and', '$or', '$nor'].includes(key) || !Array.isArray(value)) return null;
    for (const clause of value) {
      const inner = rootsOfFilter(clause);
      if (!inner) return null;
      for (const r of inner) out.add(r);
    }
  }
  return out;
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  let ids = map.get(key);
  if (!ids) map.set(key, (ids = new Set()));
  ids.add(id);
}

/** True when the key holds nobody any more (and is gone). */
function removeFrom(map: Map<string, Set<string>>, key: string, id: string): boolean {
  const ids = map.get(key);
  if (!ids) return false;
  ids.delete(id);
  if (ids.size > 0) return false;
  map.delete(key);
  return true;
}

function cartesian(lists: unknown[][]): unknown[][] {
  let acc: unknown[][] = [[]];
  for (const list of lists) acc = acc.flatMap((prefix) => list.map((v) => [...prefix, v]));
  return acc;
}

export interface Plan {
  docs: Document[];
  indexName?: string;
  keysExamined: number;
  /** The index lookup alone decides the match (the filter is nothing but those equalities). */
  exact: boolean;
}

/** Called for every change so the persistence layer can journal it. */
export type ChangeListener = (change: Document) => void;

export const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: '_id_' };

/** A document changed by an open transaction, and its committed version (null: none). */
export interface PendingWrite {
  txn: Transaction;
  before: Document | null;
}

/** Thrown inside a unique check to have a transaction aborted and the check run again. */
class AbortAndRetry {
  constructor(readonly txn: Transaction) {}
}

/**
 * One collection: documents in insertion order keyed by their encoded `_id`, plus indexes.
 * Every method is synchronous, so a command's read-modify-write cannot interleave with
 * another command's (Node runs one at a time): each write is atomic per document.
 */
export class Collection {
  readonly docs = new Map<string, Document>();
  readonly indexes = new Map<string, Index>();
  /** Documents tested against a filter since start; lets tests prove index use. */
  docsExamined = 0;
  /**
   * Documents written by open transactions (by encoded `_id`): `docs` and the indexes hold the
   * transaction's version, this map the committed one that everyone else reads.
   */
  readonly pending = new Map<string, PendingWrite>();

  /** The collection's UUID (listCollections `info.uuid`); kept in the journal and snapshot. */
  uuid: Binary = new UUID();
  /** The collection's default collation (`create` with `collation`); undefined: simple. */
  readonly defaultCollation?: Collation;
  /**
   * Under a default collation the `_id` index compares strings through it too (its
   * uniqueness); `docs` stays keyed by the exact `_id`.
   */
  private readonly idIndex?: Index;

  constructor(
    readonly dbName: string,
    readonly name: string,
    private readonly emit: ChangeListener,
    public options: Document = {},
    private readonly txns: TransactionHooks = NO_TRANSACTIONS,
  ) {
    if (!this.isView) {
      this.defaultCollation = parseCollation(options.collation);
      if (this.defaultCollation)
        this.idIndex = new Index({
          ...ID_INDEX,
          unique: true,
          collation: this.defaultCollation.spec,
        });
    }
  }

  get ns(): string {
    return `${this.dbName}.${this.name}`;
  }

  /** A view (`create` with `viewOn`): no documents of its own. */
  get isView(): boolean {
    return typeof this.options.viewOn === 'string';
  }

  listIndexSpecs(): IndexSpec[] {
    const id: IndexSpec = this.defaultCollation
      ? { ...ID_INDEX, collation: this.defaultCollation.spec }
      : ID_INDEX;
    return [id, ...[...this.indexes.values()].map((i) => i.spec)];
  }

  /** The secondary indexes, and the collated `_id` index when there is one. */
  private *allIndexes(): Generator<Index> {
    if (this.idIndex) yield this.idIndex;
    yield* this.indexes.values();
  }

  // ---- reads ----

  /**
   * Picks the documents a filter can match, by `_id` or a complete index when it can, as the
   * running command sees them: documents another open transaction changed are replaced by
   * their committed versions (appended, and always tested against the filter).
   */
  plan(filter: Document, collation?: Collation): Plan {
    const plan = this.planStored(filter, collation);
    if (!this.hasForeignPending()) return plan;
    const mine = this.txns.current();
    const docs = plan.docs.filter((doc) => {
      const p = this.pending.get(valueKey(doc._id));
      return !p || p.txn === mine;
    });
    for (const p of this.pending.values()) if (p.txn !== mine && p.before) docs.push(p.before);
    return { ...plan, docs, exact: false };
  }

  /** Every document the running command sees (see `plan`). */
  visibleDocs(): Document[] {
    return this.hasForeignPending() ? this.plan({}).docs : [...this.docs.values()];
  }

  /** The committed documents, as a reader outside every transaction sees them. */
  *committedDocs(): Generator<Document> {
    for (const [id, doc] of this.docs) {
      const p = this.pending.get(id);
      if (!p) yield doc;
      else if (p.before) yield p.before;
    }
    for (const [id, p] of this.pending) if (p.before && !this.docs.has(id)) yield p.before;
  }

  private hasForeignPending(): boolean {
    if (this.pending.size === 0) return false;
    const mine = this.txns.current();
    for (const p of this.pending.values()) if (p.txn !== mine) return true;
    return false;
  }

  /**
   * The stored documents a filter can match, by `_id` or a complete index when it can. Under
   * a collation an index answers string equalities only when it has that same collation.
   */
  private planStored(filter: Document, collation?: Collation): Plan {
    const idValues = equalityValues(filter._id, true);
    if (idValues && (!collation || !idValues.some(containsString))) {
      const docs: Document[] = [];
      for (const v of idValues) {
        const doc = this.docs.get(valueKey(v));
        if (doc) docs.push(doc);
      }
      return {
        docs,
        indexName: '_id_',
        keysExamined: idValues.length,
        exact: !collation && Object.keys(filter).length === 1,
      };
    }
    let best: { index: Index; keys: string[] } | undefined;
    for (const index of this.indexes.values()) {
      if (!index.complete) continue;
      const perField = index.fields.map((f) =>
        equalityValues(filter[f], index.fields.length === 1),
      );
      if (perField.some((v) => v === undefined)) continue;
      if (
        !sameCollation(index.collation, collation) &&
        perField.some((vals) => (vals as unknown[]).some(containsString))
      )
        continue;
      if (best && best.index.fields.length >= index.fields.length) continue;
      const keys = cartesian(perField as unknown[][]).map((values) => index.keyFor(values, true));
      best = { index, keys };
    }
    if (!best) {
      return (
        this.leadingPlan(filter, collation) ?? {
          docs: [...this.docs.values()],
          keysExamined: 0,
          exact: false,
        }
      );
    }
    const ids = new Set<string>();
    for (const key of best.keys) for (const id of best.index.entries.get(key) ?? []) ids.add(id);
    const docs: Document[] = [];
    // Keep insertion order among the hits, as a scan would.
    for (const id of ids) {
      const doc = this.docs.get(id);
      if (doc) docs.push(doc);
    }
    const exact = !collation && Object.keys(filter).length === best.index.fields.length;
    return { docs, indexName: best.index.name, keysExamined: best.keys.length, exact };
  }

  /**
   * The documents of the compound index whose first field the filter compares for equality
   * (the one with the fewest), each still tested against the whole filter; none: undefined.
   */
  private leadingPlan(filter: Document, collation?: Collation): Plan | undefined {
    let best: { index: Index; ids: Set<string>; keys: number } | undefined;
    for (const index of this.indexes.values()) {
      if (!index.leading || !index.complete) continue;
      const values = equalityValues(filter[index.fields[0]], true);
      // Under a query's collation strings compare through it; these keys are exact.
      if (!values || (collation && values.some(containsString))) continue;
      const ids = new Set<string>();
      for (const v of values) for (const id of index.leading.get(valueKey(v)) ?? []) ids.add(id);
      if (!best || ids.size < best.ids.size) best = { index, ids, keys: values.length };
    }
    if (!best) return undefined;
    const docs: Document[] = [];
    for (const id of best.ids) {
      const doc = this.docs.get(id);
      if (doc) docs.push(doc);
    }
    return { docs, indexName: best.index.name, keysExamined: best.keys, exact: false };
  }

  /** Documents matching a filter, in natural order. */
  // ---- writes ----

  insert(input: Document): Document {
    // mongod stores _id first whatever the client sent (drivers append it last).
    const doc =
      Object.keys(input)[0] === '_id' ? input : { _id: input._id ?? new ObjectId(), ...input };
    validateId(doc._id);
    checkSize(doc);
    const id = valueKey(doc._id);
    this.claim(id);
    if (this.docs.has(id)) throw this.duplicate(ID_INDEX, [doc._id]);
    const keys = this.checkUnique(doc, id);
    this.docs.set(id, doc);
    for (const [index, k] of keys) index.add(id, k);
    this.emit({ op: 'put', db: this.dbName, coll: this.name, doc });
    return doc;
  }

  /**
   * Replaces a stored document by its new version (same `_id`), keeping indexes in step.
   * `changed`: the only top-level fields in which the new version may differ from `oldDoc`
   * (an update's operators name them); the indexes reading none of them keep their keys, which
   * are neither recomputed, checked again for uniqueness, nor moved.
   */
  replace(oldDoc: Document, newDoc: Document, changed?: ReadonlySet<string>): void {
    const id = valueKey(oldDoc._id);
    if (valueKey(newDoc._id) !== id) {
      throw new MongoCommandError(
        'ImmutableField',
        `Performing an update on the path '_id' would modify the immutable field '_id'`,
      );
    }
    checkSize(newDoc);
    this.claim(id);
    // The stored version, which `changed` compares with: the one the update read (claiming a
    // document another transaction held puts back the very version the update read). Anything
    // else, and every index is recomputed. (Checking uniqueness only aborts transactions
    // holding other documents: this one is claimed.)
    const stored = this.docs.get(id) ?? oldDoc;
    const moved = changed && stored === oldDoc ? (i: Index) => i.readsAny(changed) : undefined;
    const keys = this.checkUnique(newDoc, id, moved);
    this.docs.set(id, newDoc);
    for (const [index, k] of keys) index.move(id, index.keysOf(stored), k);
    this.emit({ op: 'put', db: this.dbName, coll: this.name, doc: newDoc });
  }

  delete(doc: Document): void {
    const id = valueKey(doc._id);
    this.claim(id);
    const stored = this.docs.get(id);
    if (!stored) return;
    this.docs.delete(id);
    for (const index of this.allIndexes()) index.remove(id, index.keysOf(stored));
    this.emit({ op: 'del', db: this.dbName, coll: this.name, id: doc._id });
  }

  /** Loads a document from the journal without re-journaling it (last write wins). */
  restore(doc: Document): void {
    const id = valueKey(doc._id);
    const old = this.docs.get(id);
    this.docs.set(id, doc);
    for (const index of this.allIndexes()) {
      index.move(id, old ? index.keysOf(old) : [], index.keysOf(doc));
    }
  }

  restoreDelete(idValue: unknown): void {
    const old = this.docs.get(valueKey(idValue));
    if (old) {
      const id = valueKey(idValue);
      this.docs.delete(id);
      for (const index of this.allIndexes()) index.remove(id, index.keysOf(old));
    }
  }

  // ---- transactions ----

  /**
   * Takes the document for the running command before it changes it. A document another open
   * transaction changed first: a transaction gets a WriteConflict (first writer wins), a write
   * outside any transaction aborts that transaction (it never waits or fails because of one).
   */
  private claim(id: string): void {
    const mine = this.txns.current();
    const p = this.pending.get(id);
    if (p && p.txn !== mine) {
      if (mine) throw writeConflict(`${this.ns}: a document another transaction changed`);
      this.txns.abort(p.txn, `a write outside the transaction changed a document of ${this.ns}`);
    }
    if (mine && !this.pending.has(id)) {
      this.pending.set(id, { txn: mine, before: this.docs.get(id) ?? null });
      mine.touched.add(this);
    }
  }

  /** Ends a transaction here: commit keeps its versions, abort puts the committed ones back. */
  settle(txn: Transaction, commit: boolean): void {
    for (const [id, p] of this.pending) {
      if (p.txn !== txn) continue;
      this.pending.delete(id);
      if (commit) continue;
      if (p.before) this.restore(p.before);
      else {
        const current = this.docs.get(id);
        if (current) {
          this.docs.delete(id);
          for (const index of this.allIndexes()) index.remove(id, index.keysOf(current));
        }
      }
    }
  }

  /** The open transactions holding documents of this collection. */
  pendingTransactions(): Set<Transaction> {
    return new Set([...this.pending.values()].map((p) => p.txn));
  }

  // ---- indexes ----

  /** Returns false when an identical index already exists. */
  createIndex(spec: IndexSpec, journal = true): boolean {
    if (spec.name === '_id_' || isIdKey(spec.key)) return false;
    const existing = this.indexes.get(spec.name);
    const collation = parseCollation(spec.collation);
    if (existing) {
      if (
        sameKey(existing.spec.key, spec.key) &&
        !!existing.spec.unique === !!spec.unique &&
        sameCollation(existing.collation, collation)
      )
        return false;
      throw new MongoCommandError(
        'IndexKeySpecsConflict',
        `An existing index has the same name as the requested index. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(existing.spec)}`,
      );
    }
    for (const other of this.indexes.values()) {
      // The same key with another collation is another index (mongod allows both).
      if (sameKey(other.spec.key, spec.key) && sameCollation(other.collation, collation)) {
        if (!!other.spec.unique === !!spec.unique && !!other.spec.sparse === !!spec.sparse)
          throw new MongoCommandError(
            'IndexOptionsConflict',
            `Index already exists with a different name: ${other.name}`,
          );
        throw new MongoCommandError(
          'IndexOptionsConflict',
          `An equivalent index already exists with a different name and options. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(other.spec)}`,
        );
      }
    }
    const index = new Index(spec);
    for (const [id, doc] of this.docs) {
      const keys = index.keysOf(doc);
      if (index.unique) {
        for (const k of keys) {
          const holders = index.entries.get(k.key);
          if (holders && [...holders].some((h) => h !== id)) throw this.duplicate(spec, k.values);
        }
      }
      index.add(id, keys);
    }
    this.indexes.set(spec.name, index);
    if (journal) this.emit({ op: 'createIndex', db: this.dbName, coll: this.name, spec });
    return true;
  }

  /** Replaces an index by a new spec of the same key (collMod: TTL, hidden). */
  replaceIndex(spec: IndexSpec): void {
    this.dropIndex(spec.name);
    this.createIndex(spec);
  }

  dropIndex(name: string): void {
    if (!this.indexes.delete(name)) {
      throw new MongoCommandError('IndexNotFound', `index not found with name [${name}]`);
    }
    this.emit({ op: 'dropIndex', db: this.dbName, coll: this.name, name });
  }

  findIndexByKey(key: Document): Index | undefined {
    for (const index of this.indexes.values()) if (sameKey(index.spec.key, key)) return index;
    return undefined;
  }

  textIndex(): Index | undefined {
    for (const index of this.indexes.values()) if (index.text) return index;
    return undefined;
  }

  /**
   * Validates every unique index for a document before anything is changed. A key held by
   * another open transaction (its new version, or the committed version it replaced) is a
   * conflict with that transaction, resolved as in `claim`; then the check runs again.
   */
  private checkUnique(
    doc: Document,
    id: string,
    moved?: (index: Index) => boolean,
  ): Array<[Index, IndexKey[]]> {
    for (;;) {
      try {
        return this.checkUniqueOnce(doc, id, moved);
      } catch (err) {
        if (!(err instanceof AbortAndRetry)) throw err;
        this.txns.abort(err.txn, `a write outside the transaction took a key of ${this.ns}`);
      }
    }
  }

  /** `moved`: which indexes the document's keys may have changed in (absent: all). */
  private checkUniqueOnce(
    doc: Document,
    id: string,
    moved?: (index: Index) => boolean,
  ): Array<[Index, IndexKey[]]> {
    const mine = this.txns.current();
    const conflict = (txn: Transaction): never => {
      if (mine) throw writeConflict(`${this.ns}: a unique key another transaction holds`);
      throw new AbortAndRetry(txn);
    };
    const out: Array<[Index, IndexKey[]]> = [];
    for (const index of this.allIndexes()) {
      if (moved && !moved(index)) continue;
      const keys = index.keysOf(doc);
      if (index.unique) {
        for (const k of keys) {
          const holders = index.entries.get(k.key);
          if (holders && (holders.size > 1 || !holders.has(id))) {
            for (const holder of holders) {
              const p = holder === id ? undefined : this.pending.get(holder);
              // Its committed version holds the key too: a plain duplicate, whatever happens.
              const committed = p?.before && index.keysOf(p.before).some((b) => b.key === k.key);
              if (p && p.txn !== mine && !committed) conflict(p.txn);
            }
            throw this.duplicate(index.spec, k.values);
          }
          for (const [other, p] of this.pending) {
            if (p.txn === mine || !p.before || other === id) continue;
            if (index.keysOf(p.before).some((b) => b.key === k.key)) conflict(p.txn);
          }
        }
      }
      out.push([index, keys]);
    }
    return out;
  }

  /** The exact error mongod answers, so drivers and mongoose recognise a duplicate key. */
  duplicate(spec: IndexSpec, values: unknown[]): MongoCommandError {
    const fields = Object.keys(spec.key);
    const keyValue: Document = {};
    fields.forEach((f, i) => (keyValue[f] = values[i] ?? null));
    const shown = fields.map((f, i) => `${f}: ${formatValue(values[i])}`).join(', ');
    return new MongoCommandError(
      'DuplicateKey',
      `E11000 duplicate key error collection: ${this.ns} index: ${spec.name} dup key: { ${shown} }`,
      { keyPattern: { ...spec.key }, keyValue },
    );
  }
}

/** mongod's checks of an `_id` on insert (storageValidIdField). */
function validateId(id: unknown): void {
  const t = canonicalType(id);
  if (Array.isArray(id) || t === Canon.Regex)
    throw new MongoCommandError(
      'InvalidIdField',
      `The '_id' value cannot be of type ${Array.isArray(id) ? 'array' : 'regex'}`,
    );
  if (isPlainObject(id)) {
    const dollar = firstDollarField(id);
    if (dollar)
      throw new MongoCommandError(
        'DollarPrefixedFieldName',
        `_id fields may not contain '$'-prefixed fields: ${dollar} is not valid for storage.`,
      );
  }
}

/** The first `$`-prefixed field name in a document, at any depth (DBRefs aside). */
function firstDollarField(doc: Document): string | undefined {
  const keys = Object.keys(doc);
  for (const k of keys) {
    if (k.startsWith('$') && !(k === '$ref' || k === '$id' || k === '$db')) return k;
    const v = doc[k];
    if (isPlainObject(v)) {
      const inner = firstDollarField(v);
      if (inner) return inner;
    } else if (Array.isArray(v)) {
      for (const el of v) {
        if (!isPlainObject(el)) continue;
        const inner = firstDollarField(el);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

function isIdKey(key: Document): boolean {
  const fields = Object.keys(key);
  return fields.length === 1 && fields[0] === '_id';
}

function sameKey(a: Document, b: Document): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function checkSize(doc: Document): void {
  const size = BSON.calculateObjectSize(doc);
  if (size > MAX_BSON_SIZE) {
    throw new MongoCommandError(
      'BSONObjectTooLarge',
      `object to insert too large. size in bytes: ${size}, max size: ${MAX_BSON_SIZE}`,
    );
  }
}

/**
 * The values a filter condition pins a field to, or undefined when it is not a plain
 * equality (ranges, regexes and whole-array matches fall back to a scan).
 */
function equalityValues(cond: unknown, allowIn: boolean): unknown[] | undefined {
  if (cond === undefined || cond instanceof RegExp || Array.isArray(cond)) return undefined;
  if (isOperatorObject(cond)) {
    const ops = Object.keys(cond);
    if (ops.length !== 1) return undefined;
    if (ops[0] === '$eq') return equalityValues(cond.$eq, false);
    if (ops[0] === '$in' && allowIn && Array.isArray(cond.$in)) {
      const values = cond.$in as unknown[];
      if (values.some((v) => v instanceof RegExp || Array.isArray(v) || isOperatorObject(v)))
        return undefined;
      return values;
    }
    return undefined;
  }
  if (isPlainObject(cond)) return [cond];
  return [cond];
}

export { cloneDocument };
