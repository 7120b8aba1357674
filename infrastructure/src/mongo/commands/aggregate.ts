import { ObjectId, type Document } from 'bson';
import type { Collation } from '../collation';
import { Collection, type IndexSpec } from '../collection';
import { MongoCommandError } from '../errors';
import { cloneDocument, formatValue, isPlainObject, valueKey } from '../keys';
import { Aggregator, PIPELINE_STAGES, evaluateLet } from '../matching';
import { validateDocument } from '../validation';
import { collectionResolver, resolveView, viewCollation, viewNotCollection } from '../views';
import { batchSizeOf, collationFor, collectionName } from './args';
import type { CommandContext } from './context';
import { runFind } from './query';

// Stages that never modify their input, so they may run on the stored documents themselves.
const READ_ONLY_STAGES = new Set([
  '$match',
  '$sort',
  '$skip',
  '$limit',
  '$count',
  '$group',
  '$sortByCount',
]);

// Stages the stand-in runs itself (not through mingo).
const STAND_IN_STAGES = new Set(['$out', '$merge', '$listLocalSessions']);
// Stages mongod 7.0 has and the stand-in does not.
const MONGOD_STAGES = new Set([
  '$collStats',
  '$currentOp',
  '$geoNear',
  '$indexStats',
  '$listSessions',
  '$planCacheStats',
  '$search',
  '$searchMeta',
  '$vectorSearch',
  '$listSearchIndexes',
  '$listSampledQueries',
  '$shardedDataDistribution',
  '$changeStreamSplitLargeEvent',
  '$queryStats',
  '$listCatalog',
]);

function stageName(stage: unknown): string {
  if (!isPlainObject(stage) || Object.keys(stage).length !== 1)
    throw new MongoCommandError(
      'Location40323',
      'A pipeline stage specification object must contain exactly one field.',
    );
  return Object.keys(stage)[0];
}

export function aggregate(cmd: Document, db: string, ctx: CommandContext): Document {
  if (!Array.isArray(cmd.pipeline))
    throw new MongoCommandError('FailedToParse', "'pipeline' option must be specified as an array");
  const pipeline = cmd.pipeline as Document[];
  const names = pipeline.map((stage) => stageName(stage));
  names.forEach((op, i) => {
    if (op === '$changeStream') {
      throw new MongoCommandError(
        'IllegalOperation',
        'change streams are not supported by the MongoDB stand-in (they need a replica set)',
      );
    }
    if (!PIPELINE_STAGES.has(op) && !STAND_IN_STAGES.has(op)) {
      if (MONGOD_STAGES.has(op))
        throw new MongoCommandError(
          'IllegalOperation',
          `the ${op} stage is not supported by the MongoDB stand-in`,
        );
      throw new MongoCommandError('Location40324', `Unrecognized pipeline stage name: '${op}'`);
    }
    if ((op === '$out' || op === '$merge') && i !== names.length - 1)
      throw new MongoCommandError(
        'Location40601',
        `${op} can only be the final stage in the pipeline`,
      );
    if (op === '$listLocalSessions' && i !== 0)
      throw new MongoCommandError(
        'Location40602',
        '$listLocalSessions is only valid as the first stage in a pipeline',
      );
  });
  const collectionLess = cmd.aggregate === 1;
  if (names[0] === '$listLocalSessions' && !collectionLess)
    throw new MongoCommandError(
      'InvalidNamespace',
      '$listLocalSessions must be run against the database with {aggregate: 1}, not a collection',
    );
  const variables = evaluateLet(cmd.let);
  const name = collectionLess ? '$cmd.aggregate' : collectionName(cmd, 'aggregate');
  const coll = collectionLess ? undefined : ctx.engine.collection(db, name);

  let stages = pipeline;
  const last = names[names.length - 1];
  const write = last === '$out' || last === '$merge' ? stages[stages.length - 1] : undefined;
  if (write) {
    if (ctx.engine.current)
      throw new MongoCommandError(
        'OperationNotSupportedInTransaction',
        `${last} cannot be used in a transaction`,
      );
    stages = stages.slice(0, -1);
  }

  let collation: Collation | undefined;
  let source: Document[];
  if (coll?.isView) {
    const view = resolveView(ctx.engine, db, coll);
    collation = viewCollation(view, cmd.collation);
    stages = [...view.pipeline, ...stages];
    source = view.base ? view.base.visibleDocs() : [];
  } else {
    collation = collationFor(cmd.collation, coll);
    if (names[0] === '$listLocalSessions') {
      source = ctx.sessions.localSessions(stages[0].$listLocalSessions);
      stages = stages.slice(1);
    } else if (stages[0] && isPlainObject(stages[0].$match)) {
      // A leading $match goes through the index planner (and supports $text).
      source = runFind(coll, { filter: stages[0].$match, collation, variables }).docs;
      stages = stages.slice(1);
    } else {
      source = coll ? coll.visibleDocs() : [];
    }
  }
  if (collation) checkCollationSupport(write ? [...stages, write] : stages, collation);
  stages = rewriteStages(stages);
  // mingo may modify its input in place (e.g. $addFields on a dotted path): give it copies,
  // of joined ($lookup) documents too.
  const readOnly = stages.every((s) => READ_ONLY_STAGES.has(Object.keys(s)[0]));
  if (!readOnly) source = source.map(cloneDocument);
  const docs = new Aggregator(stages, {
    collation,
    variables,
    collectionResolver: collectionResolver(ctx.engine, db, !readOnly),
  }).run(source) as Document[];
  if (cmd.explain === true) return { stages: pipeline, ok: 1 };
  if (write) {
    const bypass = cmd.bypassDocumentValidation === true;
    if (last === '$out') writeOut(write.$out, db, docs, ctx, bypass);
    else writeMerge(write.$merge, db, docs, ctx, collation, variables, bypass);
    return ctx.cursors.first(`${db}.${name}`, [], batchSizeOf(cmd.cursor));
  }
  return ctx.cursors.first(`${db}.${name}`, docs, batchSizeOf(cmd.cursor));
}

/** `$sortByCount` as the `$group` and `$sort` it stands for (so both are the stand-in's). */
function rewriteStages(stages: Document[]): Document[] {
  return stages.flatMap((stage) => {
    if (stage.$sortByCount === undefined) return [stage];
    return [{ $group: { _id: stage.$sortByCount, count: { $sum: 1 } } }, { $sort: { count: -1 } }];
  });
}

// ---- collation support ----

// Under a collation other than simple: stages and operators whose string comparisons the
// stand-in does not run through the collation are refused rather than answered in binary.
const COLLATION_STAGES = new Set([
  '$match',
  '$sort',
  '$limit',
  '$skip',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$count',
  '$unwind',
  '$lookup',
  '$facet',
  '$unionWith',
  '$sample',
  '$group',
  '$sortByCount',
  '$documents',
  '$redact',
  '$out',
  '$listLocalSessions',
]);

const COLLATION_SENSITIVE_OPERATORS = new Set([
  '$indexOfArray',
  '$setEquals',
  '$setIntersection',
  '$setUnion',
  '$setDifference',
  '$setIsSubset',
  '$sortArray',
  '$maxN',
  '$minN',
  '$top',
  '$topN',
  '$bottom',
  '$bottomN',
]);

function notWithCollation(what: string, collation: Collation): MongoCommandError {
  return new MongoCommandError(
    'InvalidOptions',
    `${what} with collation ${formatValue(collation.spec)} is not supported by the MongoDB stand-in (it would compare strings in binary order)`,
  );
}

function checkCollationSupport(stages: Document[], collation: Collation): void {
  for (const stage of stages) {
    const op = Object.keys(stage)[0];
    if (!COLLATION_STAGES.has(op)) throw notWithCollation(`the ${op} stage`, collation);
    const spec = stage[op];
    if (op === '$facet' && isPlainObject(spec)) {
      for (const sub of Object.values(spec))
        if (Array.isArray(sub)) checkCollationSupport(sub as Document[], collation);
      continue;
    }
    if ((op === '$lookup' || op === '$unionWith') && isPlainObject(spec)) {
      if (Array.isArray(spec.pipeline))
        checkCollationSupport(spec.pipeline as Document[], collation);
      const { pipeline: _p, ...rest } = spec;
      checkOperators(rest, collation);
      continue;
    }
    checkOperators(spec, collation);
  }
}

function checkOperators(v: unknown, collation: Collation): void {
  if (Array.isArray(v)) {
    for (const x of v) checkOperators(x, collation);
    return;
  }
  if (!isPlainObject(v)) return;
  for (const [k, x] of Object.entries(v)) {
    if (COLLATION_SENSITIVE_OPERATORS.has(k))
      throw notWithCollation(`the ${k} operator`, collation);
    checkOperators(x, collation);
  }
}

// ---- $out and $merge ----

function targetOf(spec: unknown, db: string, stage: string): { db: string; coll: string } {
  if (typeof spec === 'string') return { db, coll: spec };
  if (isPlainObject(spec) && typeof spec.coll === 'string') {
    if (spec.timeseries !== undefined)
      throw new MongoCommandError(
        'InvalidOptions',
        `${stage} into a time series collection is not supported by the MongoDB stand-in`,
      );
    return { db: typeof spec.db === 'string' ? spec.db : db, coll: spec.coll };
  }
  throw new MongoCommandError(
    'Location16990',
    `${stage} only supports a string or object argument, not ${typeof spec}`,
  );
}

function withId(doc: Document): Document {
  return doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc;
}

/**
 * $out: replaces the target collection's documents with the results, all or nothing (the
 * results are checked against its indexes and validator before anything changes); the
 * target keeps its indexes and options.
 */
function writeOut(
  spec: unknown,
  db: string,
  docs: Document[],
  ctx: CommandContext,
  bypass: boolean,
): void {
  const target = targetOf(spec, db, '$out');
  const existing = ctx.engine.collection(target.db, target.coll);
  if (existing?.isView) throw viewNotCollection(target.db, target.coll);
  const options = existing ? existing.options : {};
  const specs: IndexSpec[] = existing ? [...existing.indexes.values()].map((i) => i.spec) : [];
  // A scratch copy proves the results fit before the target changes.
  const scratch = new Collection(target.db, target.coll, () => undefined, options);
  for (const s of specs) scratch.createIndex(s, false);
  const results = docs.map((d) => withId(cloneDocument(d)));
  for (const doc of results) {
    if (existing) validateDocument(existing, doc, undefined, bypass);
    scratch.insert(doc);
  }
  // One journal group: after a crash the target is either the old or the new collection.
  ctx.engine.atomically(() => {
    ctx.engine.dropCollection(target.db, target.coll);
    const out = ctx.engine.ensureCollection(target.db, target.coll, options);
    for (const s of specs) out.createIndex(s);
    for (const doc of results) out.insert(doc);
  });
}

function onFields(spec: Document): string[] {
  const on = spec.on ?? '_id';
  const fields = typeof on === 'string' ? [on] : on;
  if (!Array.isArray(fields) || fields.length === 0 || fields.some((f) => typeof f !== 'string'))
    throw new MongoCommandError(
      'Location51186',
      "$merge 'on' field must be either a string or an array of strings",
    );
  return fields as string[];
}

/** $merge: each result inserted into, merged with or replacing its match in the target. */
function writeMerge(
  raw: unknown,
  db: string,
  docs: Document[],
  ctx: CommandContext,
  collation: Collation | undefined,
  variables: Document | undefined,
  bypass: boolean,
): void {
  const spec: Document = typeof raw === 'string' ? { into: raw } : isPlainObject(raw) ? raw : {};
  if (spec.into === undefined)
    throw new MongoCommandError('Location51182', "$merge requires an 'into' field");
  const target = targetOf(spec.into, db, '$merge');
  const existing = ctx.engine.collection(target.db, target.coll);
  if (existing?.isView) throw viewNotCollection(target.db, target.coll);
  const on = onFields(spec);
  const whenMatched = spec.whenMatched ?? 'merge';
  const whenNotMatched = spec.whenNotMatched ?? 'insert';
  if (
    !Array.isArray(whenMatched) &&
    !['merge', 'replace', 'keepExisting', 'fail'].includes(whenMatched)
  )
    throw new MongoCommandError(
      'BadValue',
      `Enumeration value '${String(whenMatched)}' for field '$merge.whenMatched' is not a valid value.`,
    );
  if (!['insert', 'discard', 'fail'].includes(whenNotMatched))
    throw new MongoCommandError(
      'BadValue',
      `Enumeration value '${String(whenNotMatched)}' for field '$merge.whenNotMatched' is not a valid value.`,
    );
  if (spec.let !== undefined && !Array.isArray(whenMatched))
    throw new MongoCommandError(
      'Location51199',
      "Cannot use 'let' variables with 'whenMatched: " + String(whenMatched) + "' mode",
    );
  const byId = on.length === 1 && on[0] === '_id';
  if (!byId) {
    const unique = existing
      ? [...existing.indexes.values()].some(
          (i) =>
            i.unique &&
            !i.spec.partialFilterExpression &&
            i.fields.length === on.length &&
            on.every((f) => i.fields.includes(f)),
        )
      : false;
    if (!unique)
      throw new MongoCommandError(
        'Location51183',
        'Cannot find index to verify that join fields will be unique',
      );
  }
  const coll = existing ?? ctx.engine.ensureCollection(target.db, target.coll);
  for (const result of docs) {
    const doc = byId ? withId(cloneDocument(result)) : cloneDocument(result);
    const filter: Document = {};
    for (const f of on) {
      const v = valueOf(doc, f);
      if (v === undefined || v === null || Array.isArray(v))
        throw new MongoCommandError(
          'Location51132',
          "$merge write error: 'on' field cannot be missing, null, undefined or an array",
        );
      filter[f] = v;
    }
    const match = runFind(coll, { filter, collation }).docs[0];
    if (!match) {
      if (whenNotMatched === 'discard') continue;
      if (whenNotMatched === 'fail')
        throw new MongoCommandError(
          'MergeStageNoMatchingDocument',
          '$merge could not find a matching document in the target collection for at least one document in the source collection',
        );
      const inserted = withId(doc);
      validateDocument(coll, inserted, undefined, bypass);
      coll.insert(inserted);
      continue;
    }
    if (whenMatched === 'keepExisting') continue;
    if (whenMatched === 'fail')
      throw coll.duplicate({ name: '_id_', key: { _id: 1 } }, [match._id]);
    let next: Document;
    if (Array.isArray(whenMatched)) {
      const letSpec = { new: '$$ROOT', ...(isPlainObject(spec.let) ? spec.let : {}) };
      const vars: Document = { ...variables };
      const scope = new Aggregator([{ $replaceWith: { v: letSpec } }], { variables }).run([
        doc,
      ])[0] as Document;
      Object.assign(vars, scope.v as Document);
      const [updated] = new Aggregator(whenMatched as Document[], {
        collation,
        variables: vars,
      }).run([cloneDocument(match)]) as Document[];
      next = { ...updated, _id: match._id };
    } else if (whenMatched === 'replace') {
      next = { ...doc, _id: match._id };
    } else {
      next = { ...match, ...doc, _id: match._id };
    }
    if (doc._id !== undefined && valueKey(doc._id) !== valueKey(match._id))
      throw new MongoCommandError(
        'ImmutableField',
        "$merge failed to update the matching document, did you attempt to modify the _id or the shard key? :: caused by :: Performing an update on the path '_id' would modify the immutable field '_id'",
      );
    validateDocument(coll, next, match, bypass);
    coll.replace(match, idFirstOf(next));
  }
}

function valueOf(doc: Document, path: string): unknown {
  let cur: unknown = doc;
  for (const p of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function idFirstOf(doc: Document): Document {
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}
