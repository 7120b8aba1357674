import type { Document } from 'bson';
import { parseCollation } from '../collation';
import type { IndexSpec } from '../collection';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { viewNotCollection } from '../views';
import { batchSizeOf, collectionName } from './args';
import type { CommandContext, Handler } from './context';

// The fields an index specification may have (mongod answers 197 for any other).
const INDEX_FIELDS = new Set([
  'v',
  'key',
  'name',
  'unique',
  'sparse',
  'partialFilterExpression',
  'expireAfterSeconds',
  'hidden',
  'collation',
  'weights',
  'default_language',
  'language_override',
  'textIndexVersion',
  '2dsphereIndexVersion',
  'bits',
  'min',
  'max',
  'bucketSize',
  'wildcardProjection',
  'storageEngine',
  'background',
  'ns',
  'prepareUnique',
  'clustered',
  'coarsestIndexedLevel',
  'finestIndexedLevel',
]);

export function createIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'createIndexes');
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) {
    throw new MongoCommandError('BadValue', 'Must specify at least one index to create');
  }
  const found = ctx.engine.collection(db, name);
  if (found?.isView) throw viewNotCollection(db, name);
  const existed = found !== undefined;
  if (!ctx.engine.current) ctx.engine.prepareDdl(db, name);
  const coll = ctx.engine.ensureCollection(db, name);
  const before = coll.indexes.size + 1;
  for (const raw of cmd.indexes as Document[]) {
    if (!isPlainObject(raw.key) || Object.keys(raw.key).length === 0) {
      throw new MongoCommandError('BadValue', 'index specification must have a non-empty key');
    }
    if (typeof raw.name !== 'string')
      throw new MongoCommandError('BadValue', 'index specification must have a name');
    for (const field of Object.keys(raw))
      if (!INDEX_FIELDS.has(field))
        throw new MongoCommandError(
          'InvalidIndexSpecificationOption',
          `The field '${field}' is not valid for an index specification. Specification: ${JSON.stringify(raw)}`,
        );
    // The index's collation in full (as listIndexes shows it); without one it inherits the
    // collection's default; { locale: 'simple' } means none.
    const spec: Document = { v: 2, ...raw };
    if (raw.collation !== undefined) {
      const collation = parseCollation(raw.collation);
      if (collation) spec.collation = collation.spec;
      else delete spec.collation;
    } else if (coll.defaultCollation) spec.collation = coll.defaultCollation.spec;
    coll.createIndex(spec as unknown as IndexSpec);
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

export function listIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'listIndexes');
  const coll = ctx.engine.collection(db, name);
  if (!coll) throw new MongoCommandError('NamespaceNotFound', `ns does not exist: ${db}.${name}`);
  if (coll.isView) throw viewNotCollection(db, name);
  return ctx.cursors.first(
    `${db}.$cmd.listIndexes.${name}`,
    coll.listIndexSpecs() as Document[],
    batchSizeOf(cmd.cursor),
  );
}

export function dropIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'dropIndexes');
  const coll = ctx.engine.collection(db, name);
  if (!coll) throw new MongoCommandError('NamespaceNotFound', `ns not found ${db}.${name}`);
  if (coll.isView) throw viewNotCollection(db, name);
  ctx.engine.prepareDdl(db, name);
  const was = coll.indexes.size + 1;
  const target = cmd.index;
  if (target === '*') {
    for (const indexName of [...coll.indexes.keys()]) coll.dropIndex(indexName);
  } else if (Array.isArray(target)) {
    for (const indexName of target) coll.dropIndex(String(indexName));
  } else if (isPlainObject(target)) {
    if (Object.keys(target).length === 1 && target._id === 1)
      throw new MongoCommandError('InvalidOptions', 'cannot drop _id index');
    const index = coll.findIndexByKey(target);
    if (!index)
      throw new MongoCommandError(
        'IndexNotFound',
        `can't find index with key: ${JSON.stringify(target)}`,
      );
    coll.dropIndex(index.name);
  } else if (target === '_id_') {
    throw new MongoCommandError('InvalidOptions', 'cannot drop _id index');
  } else {
    coll.dropIndex(String(target));
  }
  return { nIndexesWas: was, ok: 1 };
}

/** The old name of dropIndexes. */
export const deleteIndexes: Handler = (cmd, db, ctx) =>
  dropIndexes({ ...cmd, dropIndexes: cmd.deleteIndexes }, db, ctx);
