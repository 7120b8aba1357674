import type { Document } from 'bson';
import { Query } from 'mingo';
import type { Collection } from '../collection';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import type { CommandContext } from './context';
import { SERVER_VERSION } from './handshake';

// Server, database and collection statistics (sizes are estimates).

export function serverStatus(_cmd: Document, _db: string, ctx: CommandContext): Document {
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

export function listDatabases(cmd: Document, _db: string, ctx: CommandContext): Document {
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

export function dbStats(_cmd: Document, db: string, ctx: CommandContext): Document {
  const all = [...(ctx.engine.dbs.get(db)?.values() ?? [])];
  const colls = all.filter((c) => !c.isView);
  const objects = colls.reduce((s, c) => s + c.docs.size, 0);
  const indexes = colls.reduce((s, c) => s + c.indexes.size + 1, 0);
  const dataSize = approxSize(colls);
  return {
    db,
    collections: colls.length,
    views: all.length - colls.length,
    objects,
    dataSize,
    storageSize: dataSize,
    indexes,
    ok: 1,
  };
}

export function collStats(cmd: Document, db: string, ctx: CommandContext): Document {
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
