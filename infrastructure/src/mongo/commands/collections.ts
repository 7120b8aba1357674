import type { Document } from 'bson';
import { Query } from 'mingo';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { batchSizeOf, collectionName } from './args';
import type { CommandContext } from './context';

export function create(cmd: Document, db: string, ctx: CommandContext): Document {
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

export function renameCollection(cmd: Document, _db: string, ctx: CommandContext): Document {
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
