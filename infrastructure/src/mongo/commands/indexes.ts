import type { Document } from 'bson';
import type { IndexSpec } from '../collection';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { batchSizeOf, collectionName } from './args';
import type { CommandContext, Handler } from './context';

export function createIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'createIndexes');
  if (!Array.isArray(cmd.indexes) || cmd.indexes.length === 0) {
    throw new MongoCommandError('BadValue', 'Must specify at least one index to create');
  }
  const existed = ctx.engine.collection(db, name) !== undefined;
  if (!ctx.engine.current) ctx.engine.prepareDdl(db, name);
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

export function listIndexes(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'listIndexes');
  const coll = ctx.engine.collection(db, name);
  if (!coll) throw new MongoCommandError('NamespaceNotFound', `ns does not exist: ${db}.${name}`);
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
  ctx.engine.prepareDdl(db, name);
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

/** The old name of dropIndexes. */
export const deleteIndexes: Handler = (cmd, db, ctx) =>
  dropIndexes({ ...cmd, dropIndexes: cmd.deleteIndexes }, db, ctx);
