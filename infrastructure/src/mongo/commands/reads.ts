import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import { isPlainObject, valueKey } from '../keys';
import { collectionName } from './args';
import type { CommandContext } from './context';
import { runFind } from './query';

export function find(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'find');
  const result = runFind(ctx.engine.collection(db, name), cmd);
  const limit = Number(cmd.limit ?? 0);
  const singleBatch = cmd.singleBatch === true || limit < 0;
  let batchSize = cmd.batchSize === undefined ? undefined : Number(cmd.batchSize);
  if (limit > 0 && (batchSize === undefined || batchSize > limit))
    batchSize = Math.max(batchSize ?? 0, limit);
  return ctx.cursors.first(`${db}.${name}`, result.docs, batchSize, singleBatch);
}

export function count(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'count');
  const { docs } = runFind(ctx.engine.collection(db, name), {
    filter: cmd.query,
    skip: cmd.skip,
    limit: cmd.limit,
  });
  return { n: docs.length, ok: 1 };
}

export function distinct(cmd: Document, db: string, ctx: CommandContext): Document {
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
