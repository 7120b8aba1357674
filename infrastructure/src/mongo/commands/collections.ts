import type { Document } from 'bson';
import { parseCollation } from '../collation';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { Query } from '../matching';
import { checkValidatorOptions } from '../validation';
import { checkViewCycle, viewNotCollection } from '../views';
import { batchSizeOf, collectionName } from './args';
import type { CommandContext } from './context';

// Options of `create` the stand-in keeps (and honours) or accepts without effect on results.
const KEPT_OPTIONS = new Set([
  'viewOn',
  'pipeline',
  'collation',
  'validator',
  'validationLevel',
  'validationAction',
]);
const IGNORED_OPTIONS = new Set([
  'create',
  'lsid',
  'txnNumber',
  'autocommit',
  'startTransaction',
  'writeConcern',
  'comment',
  'storageEngine',
  'indexOptionDefaults',
  'idIndex',
  'autoIndexId',
  'flags',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  'maxTimeMS',
]);
// Real MongoDB options whose behaviour the stand-in does not have: refused, never ignored.
const UNSUPPORTED_OPTIONS = new Set([
  'capped',
  'size',
  'max',
  'timeseries',
  'expireAfterSeconds',
  'clusteredIndex',
  'changeStreamPreAndPostImages',
  'encryptedFields',
  'recordPreImages',
]);

function unsupportedOption(command: string, option: string): MongoCommandError {
  return new MongoCommandError(
    'InvalidOptions',
    `${command} option '${option}' is not supported by the MongoDB stand-in`,
  );
}

/** Checks a view definition (`viewOn` + `pipeline`). */
function checkViewDefinition(
  options: Document,
  db: string,
  name: string,
  ctx: CommandContext,
): void {
  if (typeof options.viewOn !== 'string' || options.viewOn === '')
    throw new MongoCommandError(
      'TypeMismatch',
      "BSON field 'viewOn' is the wrong type, expected type 'string'",
    );
  const pipeline = options.pipeline ?? [];
  if (!Array.isArray(pipeline))
    throw new MongoCommandError(
      'TypeMismatch',
      "BSON field 'pipeline' is the wrong type, expected type 'array'",
    );
  for (const stage of pipeline) {
    if (!isPlainObject(stage) || Object.keys(stage).length !== 1)
      throw new MongoCommandError(
        'Location40323',
        'A pipeline stage specification object must contain exactly one field.',
      );
    const op = Object.keys(stage)[0];
    if (op === '$out' || op === '$merge' || op === '$changeStream')
      throw new MongoCommandError(
        'OptionNotSupportedOnView',
        `${op} cannot be used in a view definition`,
      );
  }
  checkViewCycle(ctx.engine, db, name, options.viewOn);
}

export function create(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'create');
  if (ctx.engine.collection(db, name)) {
    throw new MongoCommandError('NamespaceExists', `Collection ${db}.${name} already exists.`);
  }
  const options: Document = {};
  for (const [k, v] of Object.entries(cmd)) {
    if (k.startsWith('$') || IGNORED_OPTIONS.has(k)) continue;
    if (UNSUPPORTED_OPTIONS.has(k)) {
      if (k === 'capped' && v === false) continue;
      throw unsupportedOption('create', k);
    }
    if (!KEPT_OPTIONS.has(k))
      throw new MongoCommandError(
        'IDLUnknownField',
        `BSON field 'create.${k}' is an unknown field.`,
      );
    options[k] = v;
  }
  if (options.pipeline !== undefined && options.viewOn === undefined)
    throw new MongoCommandError('BadValue', "'pipeline' requires 'viewOn' to also be specified");
  if (options.viewOn !== undefined) {
    if (
      options.validator !== undefined ||
      options.validationLevel !== undefined ||
      options.validationAction !== undefined
    )
      throw new MongoCommandError(
        'InvalidOptions',
        'Cannot specify validation options when creating a view',
      );
    checkViewDefinition(options, db, name, ctx);
    options.pipeline = options.pipeline ?? [];
  } else checkValidatorOptions(options);
  if (options.collation !== undefined) {
    const collation = parseCollation(options.collation);
    if (collation) options.collation = collation.spec;
    else delete options.collation;
  }
  ctx.engine.ensureCollection(db, name, options);
  return { ok: 1 };
}

const COLL_MOD_KEPT = new Set([
  'validator',
  'validationLevel',
  'validationAction',
  'viewOn',
  'pipeline',
]);
const COLL_MOD_UNSUPPORTED = new Set([
  'changeStreamPreAndPostImages',
  'expireAfterSeconds',
  'timeseries',
  'cappedSize',
  'cappedMax',
  'clusteredIndex',
  'prepareUniqueIndexes',
  'recordPreImages',
  'dryRun',
]);

/** collMod: validator options, a view's definition, an index's TTL or `hidden`. */
export function collMod(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'collMod');
  const coll = ctx.engine.collection(db, name);
  if (!coll) throw new MongoCommandError('NamespaceNotFound', `ns does not exist: ${db}.${name}`);
  const changes: Document = {};
  let index: Document | undefined;
  for (const [k, v] of Object.entries(cmd)) {
    if (k === 'collMod' || k.startsWith('$') || IGNORED_OPTIONS.has(k)) continue;
    if (k === 'index') {
      if (!isPlainObject(v))
        throw new MongoCommandError(
          'TypeMismatch',
          "BSON field 'collMod.index' is the wrong type, expected type 'object'",
        );
      index = v;
      continue;
    }
    if (COLL_MOD_UNSUPPORTED.has(k)) throw unsupportedOption('collMod', k);
    if (!COLL_MOD_KEPT.has(k))
      throw new MongoCommandError(
        'IDLUnknownField',
        `BSON field 'collMod.${k}' is an unknown field.`,
      );
    changes[k] = v;
  }
  const viewChange = changes.viewOn !== undefined || changes.pipeline !== undefined;
  if (coll.isView) {
    if (
      index ||
      changes.validator !== undefined ||
      changes.validationLevel !== undefined ||
      changes.validationAction !== undefined
    )
      throw new MongoCommandError(
        'InvalidOptions',
        `option not supported on a view: ${Object.keys(changes)
          .concat(index ? ['index'] : [])
          .join(', ')}`,
      );
    if (!viewChange) return { ok: 1 };
    changes.viewOn ??= coll.options.viewOn;
    changes.pipeline ??= coll.options.pipeline ?? [];
    checkViewDefinition(changes, db, name, ctx);
  } else {
    if (viewChange) throw viewNotCollectionMod(db, name);
    checkValidatorOptions(changes);
  }
  ctx.engine.prepareDdl(db, name);
  const reply: Document = { ok: 1 };
  if (index) Object.assign(reply, modifyIndex(coll, index));
  if (Object.keys(changes).length > 0)
    ctx.engine.setOptions(db, name, { ...coll.options, ...changes });
  return reply;
}

function viewNotCollectionMod(db: string, name: string): MongoCommandError {
  return new MongoCommandError(
    'InvalidOptions',
    `option not supported on a collection (${db}.${name} is not a view): viewOn, pipeline`,
  );
}

function modifyIndex(
  coll: NonNullable<ReturnType<CommandContext['engine']['collection']>>,
  spec: Document,
): Document {
  const target =
    typeof spec.name === 'string'
      ? coll.indexes.get(spec.name)
      : isPlainObject(spec.keyPattern)
        ? coll.findIndexByKey(spec.keyPattern)
        : undefined;
  if (!target)
    throw new MongoCommandError(
      'IndexNotFound',
      `cannot find index ${JSON.stringify(spec.name ?? spec.keyPattern)} for ns ${coll.ns}`,
    );
  const reply: Document = {};
  const next: Document = { ...target.spec };
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'name' || k === 'keyPattern') continue;
    if (k === 'expireAfterSeconds') {
      if (target.spec.expireAfterSeconds === undefined)
        throw new MongoCommandError('InvalidOptions', 'no expireAfterSeconds field to update');
      reply.expireAfterSeconds_old = target.spec.expireAfterSeconds;
      reply.expireAfterSeconds_new = v;
      next.expireAfterSeconds = v;
    } else if (k === 'hidden') {
      reply.hidden_old = target.spec.hidden === true;
      reply.hidden_new = v === true;
      if (v === true) next.hidden = true;
      else delete next.hidden;
    } else throw unsupportedOption('collMod index', k);
  }
  coll.replaceIndex(next as never);
  return reply;
}

export function drop(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'drop');
  const coll = ctx.engine.dropCollection(db, name);
  return { ns: `${db}.${name}`, nIndexesWas: coll ? coll.indexes.size + 1 : 0, ok: 1 };
}

export function dropDatabase(_cmd: Document, db: string, ctx: CommandContext): Document {
  ctx.engine.dropDatabase(db);
  return { dropped: db, ok: 1 };
}

export function listCollections(cmd: Document, db: string, ctx: CommandContext): Document {
  let entries: Document[] = [...(ctx.engine.dbs.get(db)?.values() ?? [])].map((c) =>
    c.isView
      ? { name: c.name, type: 'view', options: c.options, info: { readOnly: true } }
      : {
          name: c.name,
          type: 'collection',
          options: c.options,
          info: { readOnly: false, uuid: c.uuid },
          idIndex: c.listIndexSpecs()[0],
        },
  );
  if (isPlainObject(cmd.filter) && Object.keys(cmd.filter).length > 0) {
    entries = new Query(cmd.filter).find(entries).all() as Document[];
  }
  if (cmd.nameOnly === true) entries = entries.map((e) => ({ name: e.name, type: e.type }));
  return ctx.cursors.first(`${db}.$cmd.listCollections`, entries, batchSizeOf(cmd.cursor));
}

export function renameCollection(cmd: Document, _db: string, ctx: CommandContext): Document {
  const [fromDb, ...fromRest] = String(cmd.renameCollection).split('.');
  const [toDb, ...toRest] = String(cmd.to).split('.');
  const source = ctx.engine.collection(fromDb, fromRest.join('.'));
  if (source?.isView) throw viewNotCollection(fromDb, fromRest.join('.'));
  ctx.engine.renameCollection(
    fromDb,
    fromRest.join('.'),
    toDb,
    toRest.join('.'),
    cmd.dropTarget === true,
  );
  return { ok: 1 };
}
