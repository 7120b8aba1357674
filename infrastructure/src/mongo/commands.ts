import { BSON, EJSON, ObjectId, type Document } from 'bson';
import { Aggregator, Query, find as mingoFind, update as mingoUpdate } from 'mingo';
import { MAX_BSON_SIZE, type Collection, type IndexSpec } from './collection';
import type { CursorStore } from './cursors';
import type { Engine } from './engine';
import { MongoCommandError, errorReply } from './errors';
import { cloneDocument, isOperatorObject, isPlainObject, valueKey } from './keys';
import { compileTextSearch } from './text';

export const SERVER_VERSION = '7.0.0';
const MAX_WIRE_VERSION = 21; // MongoDB 7.0
const MAX_MESSAGE_BYTES = 48_000_000;

export interface CommandContext {
  engine: Engine;
  cursors: CursorStore;
  connectionId: number;
  startedAt: number;
  /** Number of open client connections (serverStatus). */
  connections(): number;
}

type Handler = (cmd: Document, db: string, ctx: CommandContext) => Document;

/** Runs one command synchronously and always returns a reply document. */
export function runCommand(cmd: Document, ctx: CommandContext): Document {
  const name = Object.keys(cmd)[0];
  const db = typeof cmd.$db === 'string' ? cmd.$db : 'admin';
  try {
    if (name === undefined) throw new MongoCommandError('FailedToParse', 'empty command');
    rejectTransactions(cmd, name);
    const handler = lookupHandler(name);
    if (!handler || name === '$legacyFind') {
      if (name === '$legacyFind') {
        throw new MongoCommandError(
          'CommandNotFound',
          'legacy OP_QUERY find is not supported; use OP_MSG',
        );
      }
      throw new MongoCommandError('CommandNotFound', `no such command: '${name}'`);
    }
    return handler(cmd, db, ctx);
  } catch (err) {
    return errorReply(err);
  }
}

/** Multi-document transactions are refused with a clear error (a standalone mongod refuses them too). */
function rejectTransactions(cmd: Document, name: string): void {
  if (
    cmd.startTransaction === true ||
    cmd.autocommit === false ||
    name === 'commitTransaction' ||
    name === 'abortTransaction'
  ) {
    // Not IllegalOperation (20): the driver rewrites that code on writes into a retryWrites hint.
    throw new MongoCommandError(
      'OperationNotSupportedInTransaction',
      'Multi-document transactions are not supported by the MongoDB stand-in (a standalone server); use a replica-set MongoDB for them',
    );
  }
}

// ---------------------------------------------------------------- handshake & admin

function hello(cmd: Document, _db: string, ctx: CommandContext): Document {
  const reply: Document = {
    isWritablePrimary: true,
    ismaster: true,
    maxBsonObjectSize: MAX_BSON_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
  if (cmd.helloOk === true) reply.helloOk = true;
  return reply;
}

const ok: Handler = () => ({ ok: 1 });

function buildInfo(): Document {
  return {
    version: SERVER_VERSION,
    gitVersion: 'ecom-mongo-stand-in',
    versionArray: [7, 0, 0, 0],
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_SIZE,
    storageEngines: ['stand-in'],
    modules: [],
    ok: 1,
  };
}

function getParameter(cmd: Document): Document {
  const reply: Document = { ok: 1 };
  const all = cmd.getParameter === '*' || cmd.featureCompatibilityVersion !== undefined;
  if (all) reply.featureCompatibilityVersion = { version: '7.0' };
  return reply;
}

function serverStatus(_cmd: Document, _db: string, ctx: CommandContext): Document {
  return {
    host: 'mongo-stand-in',
    version: SERVER_VERSION,
    process: 'mongod',
    pid: process.pid,
    uptime: Math.floor((Date.now() - ctx.startedAt) / 1000),
    localTime: new Date(),
    connections: { current: ctx.connections(), available: 1000 },
    ok: 1,
  };
}

function listDatabases(cmd: Document, _db: string, ctx: CommandContext): Document {
  let databases: Document[] = [...ctx.engine.dbs.entries()].map(([name, colls]) => ({
    name,
    sizeOnDisk: approxSize([...colls.values()]),
    empty: [...colls.values()].every((c) => c.docs.size === 0),
  }));
  if (isPlainObject(cmd.filter))
    databases = new Query(cmd.filter, {}).find(databases).all() as Document[];
  if (cmd.nameOnly === true) databases = databases.map((d) => ({ name: d.name }));
  const totalSize = databases.reduce((s, d) => s + ((d.sizeOnDisk as number) ?? 0), 0);
  return { databases, totalSize, totalSizeMb: Math.round(totalSize / 1e6), ok: 1 };
}

function approxSize(colls: Collection[]): number {
  // Cheap estimate: an exact size would serialise every document.
  return colls.reduce((s, c) => s + c.docs.size * 256, 0);
}

function dbStats(_cmd: Document, db: string, ctx: CommandContext): Document {
  const colls = [...(ctx.engine.dbs.get(db)?.values() ?? [])];
  const objects = colls.reduce((s, c) => s + c.docs.size, 0);
  const indexes = colls.reduce((s, c) => s + c.indexes.size + 1, 0);
  const dataSize = approxSize(colls);
  return {
    db,
    collections: colls.length,
    views: 0,
    objects,
    dataSize,
    storageSize: dataSize,
    indexes,
    ok: 1,
  };
}

function collStats(cmd: Document, db: string, ctx: CommandContext): Document {
  const coll = ctx.engine.collection(db, String(cmd.collStats));
  if (!coll)
    throw new MongoCommandError(
      'NamespaceNotFound',
      `Collection [${db}.${String(cmd.collStats)}] not found.`,
    );
  return {
    ns: coll.ns,
    count: coll.docs.size,
    size: approxSize([coll]),
    nindexes: coll.indexes.size + 1,
    ok: 1,
  };
}

// ---------------------------------------------------------------- collections

function collectionName(cmd: Document, field: string): string {
  const name = cmd[field];
  if (typeof name !== 'string' || name.length === 0) {
    throw new MongoCommandError(
      'InvalidNamespace',
      `collection name has invalid type ${typeof name}`,
    );
  }
  return name;
}

function create(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'create');
  if (ctx.engine.collection(db, name)) {
    throw new MongoCommandError('NamespaceExists', `Collection ${db}.${name} already exists.`);
  }
  const options: Document = {};
  for (const [k, v] of Object.entries(cmd)) {
    if (
      k !== 'create' &&
      !k.startsWith('$') &&
      k !== 'lsid' &&
      k !== 'txnNumber' &&
      k !== 'writeConcern'
    )
      options[k] = v;
  }
  ctx.engine.ensureCollection(db, name, options);
  return { ok: 1 };
}

function drop(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'drop');
  const coll = ctx.engine.dropCollection(db, name);
  return { ns: `${db}.${name}`, nIndexesWas: coll ? coll.indexes.size + 1 : 0, ok: 1 };
}

function dropDatabase(_cmd: Document, db: string, ctx: CommandContext): Document {
  ctx.engine.dropDatabase(db);
  return { dropped: db, ok: 1 };
}

function listCollections(cmd: Document, db: string, ctx: CommandContext): Document {
  let entries: Document[] = [...(ctx.engine.dbs.get(db)?.values() ?? [])].map((c) => ({
    name: c.name,
    type: 'collection',
    options: c.options,
    info: { readOnly: false },
    idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
  }));
  if (isPlainObject(cmd.filter) && Object.keys(cmd.filter).length > 0) {
    entries = new Query(cmd.filter, {}).find(entries).all() as Document[];
  }
  if (cmd.nameOnly === true) entries = entries.map((e) => ({ name: e.name, type: e.type }));
  return ctx.cursors.first(`${db}.$cmd.listCollections`, entries, batchSizeOf(cmd.cursor));
}

function renameCollection(cmd: Document, _db: string, ctx: CommandContext): Document {
  const [fromDb, ...fromRest] = String(cmd.renameCollection).split('.');
  const [toDb, ...toRest] = String(cmd.to).split('.');
  ctx.engine.renameCollection(
    fromDb,
    fromRest.join('.'),
    toDb,
    toRest.join('.'),
    cmd.dropTarget === true,
  );
  return { ok: 1 };
}

// ---------------------------------------------------------------- indexes

function createIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'createIndexes');
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) {
    throw new MongoCommandError('BadValue', 'Must specify at least one index to create');
  }
  const existed = ctx.engine.collection(db, name) !== undefined;
  const coll = ctx.engine.ensureCollection(db, name);
  const before = coll.indexes.size + 1;
  for (const raw of cmd.indexes as Document[]) {
    if (!isPlainObject(raw.key) || Object.keys(raw.key).length === 0) {
      throw new MongoCommandError('BadValue', 'index specification must have a non-empty key');
    }
    if (typeof raw.name !== 'string')
      throw new MongoCommandError('BadValue', 'index specification must have a name');
    coll.createIndex({ v: 2, ...raw } as unknown as IndexSpec);
  }
  const after = coll.indexes.size + 1;
  const reply: Document = {
    createdCollectionAutomatically: !existed,
    numIndexesBefore: before,
    numIndexesAfter: after,
    ok: 1,
  };
  if (before === after) reply.note = 'all indexes already exist';
  return reply;
}

function listIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'listIndexes');
  const coll = ctx.engine.collection(db, name);
  if (!coll) throw new MongoCommandError('NamespaceNotFound', `ns does not exist: ${db}.${name}`);
  return ctx.cursors.first(
    `${db}.$cmd.listIndexes.${name}`,
    coll.listIndexSpecs() as Document[],
    batchSizeOf(cmd.cursor),
  );
}

function dropIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'dropIndexes');
  const coll = ctx.engine.collection(db, name);
  if (!coll) throw new MongoCommandError('NamespaceNotFound', `ns not found ${db}.${name}`);
  const was = coll.indexes.size + 1;
  const target = cmd.index;
  if (target === '*') {
    for (const indexName of [...coll.indexes.keys()]) coll.dropIndex(indexName);
  } else if (Array.isArray(target)) {
    for (const indexName of target) coll.dropIndex(String(indexName));
  } else if (isPlainObject(target)) {
    const index = coll.findIndexByKey(target);
    if (!index)
      throw new MongoCommandError(
        'IndexNotFound',
        `can't find index with key: ${JSON.stringify(target)}`,
      );
    coll.dropIndex(index.name);
  } else if (target === '_id_') {
    throw new MongoCommandError('BadValue', 'cannot drop _id index');
  } else {
    coll.dropIndex(String(target));
  }
  return { nIndexesWas: was, ok: 1 };
}

// ---------------------------------------------------------------- reads

interface FindOptions {
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
function runFind(coll: Collection | undefined, opts: FindOptions): FindResult {
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

function idFirst(doc: Document): Document {
  if (!('_id' in doc) || Object.keys(doc)[0] === '_id') return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}

function find(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'find');
  const result = runFind(ctx.engine.collection(db, name), cmd);
  const limit = Number(cmd.limit ?? 0);
  const singleBatch = cmd.singleBatch === true || limit < 0;
  let batchSize = cmd.batchSize === undefined ? undefined : Number(cmd.batchSize);
  if (limit > 0 && (batchSize === undefined || batchSize > limit))
    batchSize = Math.max(batchSize ?? 0, limit);
  return ctx.cursors.first(`${db}.${name}`, result.docs, batchSize, singleBatch);
}

function getMore(cmd: Document, db: string, ctx: CommandContext): Document {
  const batchSize = cmd.batchSize === undefined ? undefined : Number(cmd.batchSize);
  return ctx.cursors.getMore(cmd.getMore, String(cmd.collection), db, batchSize);
}

function killCursors(cmd: Document, _db: string, ctx: CommandContext): Document {
  return ctx.cursors.kill(Array.isArray(cmd.cursors) ? cmd.cursors : []);
}

function count(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'count');
  const { docs } = runFind(ctx.engine.collection(db, name), {
    filter: cmd.query,
    skip: cmd.skip,
    limit: cmd.limit,
  });
  return { n: docs.length, ok: 1 };
}

function distinct(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'distinct');
  if (typeof cmd.key !== 'string')
    throw new MongoCommandError('BadValue', "distinct requires a string 'key'");
  const { docs } = runFind(ctx.engine.collection(db, name), { filter: cmd.query });
  const seen = new Map<string, unknown>();
  const key = cmd.key;
  for (const doc of docs) {
    for (const v of distinctValues(doc, key.split('.'))) {
      const k = valueKey(v);
      if (!seen.has(k)) seen.set(k, v);
    }
  }
  return { values: [...seen.values()], ok: 1 };
}

function distinctValues(v: unknown, parts: string[]): unknown[] {
  if (parts.length === 0) return Array.isArray(v) ? v : v === undefined ? [] : [v];
  if (Array.isArray(v)) return v.flatMap((el) => distinctValues(el, parts));
  if (isPlainObject(v)) return distinctValues(v[parts[0]], parts.slice(1));
  return [];
}

const READ_ONLY_STAGES = new Set([
  '$match',
  '$sort',
  '$skip',
  '$limit',
  '$count',
  '$group',
  '$sortByCount',
]);

function aggregate(cmd: Document, db: string, ctx: CommandContext): Document {
  if (!Array.isArray(cmd.pipeline))
    throw new MongoCommandError('FailedToParse', "'pipeline' option must be specified as an array");
  const pipeline = cmd.pipeline as Document[];
  for (const stage of pipeline) {
    const op = Object.keys(stage)[0];
    if (op === '$changeStream') {
      throw new MongoCommandError(
        'IllegalOperation',
        'change streams are not supported by the MongoDB stand-in (they need a replica set)',
      );
    }
    if (op === '$out' || op === '$merge') {
      throw new MongoCommandError(
        'IllegalOperation',
        `${op} is not supported by the MongoDB stand-in`,
      );
    }
  }
  const collectionLess = cmd.aggregate === 1;
  const name = collectionLess ? '$cmd.aggregate' : collectionName(cmd, 'aggregate');
  const coll = collectionLess ? undefined : ctx.engine.collection(db, name);
  let stages = pipeline;
  let source: Document[];
  // A leading $match goes through the index planner (and supports $text).
  const first = stages[0];
  if (first && isPlainObject(first.$match)) {
    source = runFind(coll, { filter: first.$match }).docs;
    stages = stages.slice(1);
  } else {
    source = coll ? [...coll.docs.values()] : [];
  }
  // mingo may modify its input in place (e.g. $addFields on a dotted path): give it copies,
  // of joined ($lookup) documents too.
  const readOnly = stages.every((s) => READ_ONLY_STAGES.has(Object.keys(s)[0]));
  if (!readOnly) source = source.map(cloneDocument);
  const collectionResolver = (from: string): Document[] => {
    const other = ctx.engine.collection(db, from);
    const docs = other ? [...other.docs.values()] : [];
    return readOnly ? docs : docs.map(cloneDocument);
  };
  const docs = new Aggregator(stages, { collectionResolver }).run(source) as Document[];
  if (cmd.explain === true) return { stages: pipeline, ok: 1 };
  return ctx.cursors.first(`${db}.${name}`, docs, batchSizeOf(cmd.cursor));
}

function explain(cmd: Document, db: string, ctx: CommandContext): Document {
  const inner = asDocument(cmd.explain, 'explain');
  const verb = Object.keys(inner)[0];
  let opts: FindOptions;
  if (verb === 'find') opts = inner;
  else if (verb === 'count') opts = { filter: inner.query };
  else if (verb === 'findAndModify') opts = { filter: inner.query, sort: inner.sort };
  else if (
    verb === 'aggregate' &&
    Array.isArray(inner.pipeline) &&
    isPlainObject(inner.pipeline[0]?.$match)
  ) {
    opts = { filter: inner.pipeline[0].$match };
  } else
    throw new MongoCommandError(
      'IllegalOperation',
      `explain is supported for find, count, findAndModify and aggregate, not ${verb}`,
    );
  const name = String(inner[verb]);
  const result = runFind(ctx.engine.collection(db, name), opts);
  const winningPlan = result.indexName
    ? { stage: 'FETCH', inputStage: { stage: 'IXSCAN', indexName: result.indexName } }
    : { stage: 'COLLSCAN' };
  return {
    queryPlanner: { namespace: `${db}.${name}`, winningPlan, rejectedPlans: [] },
    executionStats: {
      executionSuccess: true,
      nReturned: result.docs.length,
      totalKeysExamined: result.keysExamined,
      totalDocsExamined: result.examined,
    },
    ok: 1,
  };
}

// ---------------------------------------------------------------- writes

interface WriteError {
  index: number;
  code: number;
  errmsg: string;
  [k: string]: unknown;
}

function writeErrorOf(err: unknown, index: number): WriteError {
  const reply = errorReply(err);
  const { ok: _ok, ...rest } = reply;
  return { index, ...rest } as WriteError;
}

function writeReply(base: Document, errors: WriteError[]): Document {
  return errors.length > 0 ? { ...base, writeErrors: errors, ok: 1 } : { ...base, ok: 1 };
}

function insert(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'insert');
  const docs = cmd.documents;
  if (!Array.isArray(docs))
    throw new MongoCommandError('FailedToParse', "'documents' must be an array");
  const coll = ctx.engine.ensureCollection(db, name);
  const ordered = cmd.ordered !== false;
  const errors: WriteError[] = [];
  let n = 0;
  docs.forEach((doc: Document, i: number) => {
    if (ordered && errors.length > 0) return;
    try {
      coll.insert(doc);
      n++;
    } catch (err) {
      errors.push(writeErrorOf(err, i));
    }
  });
  return writeReply({ n }, errors);
}

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

interface UpsertResult {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  before?: Document;
  after?: Document;
}

/** One update statement (also the core of findAndModify). Synchronous: atomic per document. */
function updateDocs(
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

function matchFilter(coll: Collection, q: Document): Document[] {
  return runFind(coll, { filter: q }).docs;
}

function update(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'update');
  const updates = cmd.updates;
  if (!Array.isArray(updates))
    throw new MongoCommandError('FailedToParse', "'updates' must be an array");
  const ordered = cmd.ordered !== false;
  const errors: WriteError[] = [];
  const upserted: Document[] = [];
  let n = 0;
  let nModified = 0;
  updates.forEach((stmt: Document, i: number) => {
    if (ordered && errors.length > 0) return;
    try {
      const q = asDocument(stmt.q, 'q');
      const upsert = stmt.upsert === true;
      const coll = upsert ? ctx.engine.ensureCollection(db, name) : ctx.engine.collection(db, name);
      if (!coll) return;
      const arrayFilters = Array.isArray(stmt.arrayFilters)
        ? (stmt.arrayFilters as Document[])
        : undefined;
      const r = updateDocs(coll, q, stmt.u, {
        multi: stmt.multi === true,
        upsert,
        arrayFilters,
        sort: stmt.sort as Document | undefined,
      });
      if (r.upsertedId !== undefined) {
        upserted.push({ index: i, _id: r.upsertedId });
        n += 1;
      } else {
        n += r.matched;
        nModified += r.modified;
      }
    } catch (err) {
      errors.push(writeErrorOf(err, i));
    }
  });
  const base: Document = { n, nModified };
  if (upserted.length > 0) base.upserted = upserted;
  return writeReply(base, errors);
}

function deleteCommand(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'delete');
  const deletes = cmd.deletes;
  if (!Array.isArray(deletes))
    throw new MongoCommandError('FailedToParse', "'deletes' must be an array");
  const coll = ctx.engine.collection(db, name);
  const ordered = cmd.ordered !== false;
  const errors: WriteError[] = [];
  let n = 0;
  deletes.forEach((stmt: Document, i: number) => {
    if (ordered && errors.length > 0) return;
    try {
      const q = asDocument(stmt.q, 'q');
      if (!coll) return;
      let targets = matchFilter(coll, q);
      if (Number(stmt.limit) === 1) targets = targets.slice(0, 1);
      for (const doc of targets) coll.delete(doc);
      n += targets.length;
    } catch (err) {
      errors.push(writeErrorOf(err, i));
    }
  });
  return writeReply({ n }, errors);
}

function findAndModify(cmd: Document, db: string, ctx: CommandContext): Document {
  const name =
    typeof cmd.findAndModify === 'string'
      ? cmd.findAndModify
      : collectionName(cmd, 'findandmodify');
  const q = asDocument(cmd.query, 'query');
  const sort = isPlainObject(cmd.sort) && Object.keys(cmd.sort).length > 0 ? cmd.sort : undefined;
  const fields =
    isPlainObject(cmd.fields) && Object.keys(cmd.fields).length > 0 ? cmd.fields : undefined;
  const project = (doc: Document | undefined): Document | null => {
    if (!doc) return null;
    return fields ? idFirst(mingoFind([doc], {}, fields).all()[0] as Document) : doc;
  };
  if (cmd.remove === true) {
    const coll = ctx.engine.collection(db, name);
    if (!coll) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    let targets = matchFilter(coll, q);
    if (sort) targets = mingoFind(targets, {}).sort(sort).all() as Document[];
    const doc = targets[0];
    if (doc) coll.delete(doc);
    return { lastErrorObject: { n: doc ? 1 : 0 }, value: project(doc), ok: 1 };
  }
  if (cmd.update === undefined)
    throw new MongoCommandError(
      'FailedToParse',
      'Either an update or remove=true must be specified',
    );
  const upsert = cmd.upsert === true;
  const coll = upsert ? ctx.engine.ensureCollection(db, name) : ctx.engine.collection(db, name);
  if (!coll) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  const arrayFilters = Array.isArray(cmd.arrayFilters)
    ? (cmd.arrayFilters as Document[])
    : undefined;
  const r = updateDocs(coll, q, cmd.update, { multi: false, upsert, arrayFilters, sort });
  const returnNew = cmd.new === true;
  if (r.upsertedId !== undefined) {
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: r.upsertedId },
      value: returnNew ? project(r.after) : null,
      ok: 1,
    };
  }
  if (r.matched === 0)
    return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  return {
    lastErrorObject: { n: 1, updatedExisting: true },
    value: project(returnNew ? r.after : r.before),
    ok: 1,
  };
}

// ---------------------------------------------------------------- helpers

function asDocument(v: unknown, what: string): Document {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v))
    throw new MongoCommandError('FailedToParse', `'${what}' must be a document`);
  return v;
}

function hasKeys(d: Document | undefined): d is Document {
  return d !== undefined && Object.keys(d).length > 0;
}

function nonNegative(v: unknown, what: string): number {
  const n = Number(v ?? 0);
  if (!Number.isFinite(n) || n < 0)
    throw new MongoCommandError(
      'BadValue',
      `${what} value must be non-negative, but received: ${String(v)}`,
    );
  return n;
}

function batchSizeOf(cursor: unknown): number | undefined {
  return isPlainObject(cursor) && cursor.batchSize !== undefined
    ? Number(cursor.batchSize)
    : undefined;
}

function lookupHandler(name: string): Handler | undefined {
  if (Object.hasOwn(HANDLERS, name)) return HANDLERS[name];
  const lower = name.toLowerCase();
  return Object.hasOwn(HANDLERS, lower) ? HANDLERS[lower] : undefined;
}

const HANDLERS: Record<string, Handler> = {
  hello,
  ismaster: hello,
  isMaster: hello,
  ping: ok,
  buildInfo,
  buildinfo: buildInfo,
  getParameter,
  getparameter: getParameter,
  endSessions: ok,
  endsessions: ok,
  killSessions: ok,
  refreshSessions: ok,
  getLog: () => ({ totalLinesWritten: 0, log: [], ok: 1 }),
  getCmdLineOpts: () => ({ argv: ['mongo-stand-in'], parsed: {}, ok: 1 }),
  hostInfo: () => ({ system: { hostname: 'mongo-stand-in' }, os: {}, extra: {}, ok: 1 }),
  whatsmyuri: () => ({ you: '127.0.0.1', ok: 1 }),
  connectionStatus: () => ({
    authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] },
    ok: 1,
  }),
  serverStatus,
  listDatabases,
  dbStats,
  collStats,
  create,
  drop,
  dropDatabase,
  listCollections,
  renameCollection,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: (cmd, db, ctx) => dropIndexes({ ...cmd, dropIndexes: cmd.deleteIndexes }, db, ctx),
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate,
  explain,
  insert,
  update,
  delete: deleteCommand,
  findAndModify,
  findandmodify: findAndModify,
};
