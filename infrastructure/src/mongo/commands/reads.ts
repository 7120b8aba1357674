import type { Document } from 'bson';
import type { Collation } from '../collation';
import type { Collection } from '../collection';
import { compareValues } from '../compare';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { evaluateLet } from '../matching';
import { resolveView, viewCollation, viewDocuments } from '../views';
import { collationFor, collectionName } from './args';
import type { CommandContext } from './context';
import { runFind, type FindOptions } from './query';

/**
 * What a read searches: the collection (with its default collation), or for a view the
 * view's result (with the view's collation).
 */
export function readSource(
  cmd: Document,
  db: string,
  name: string,
  ctx: CommandContext,
): { coll: Collection | undefined; source?: Document[]; collation?: Collation } {
  const coll = ctx.engine.collection(db, name);
  if (coll?.isView) {
    const view = resolveView(ctx.engine, db, coll);
    const collation = viewCollation(view, cmd.collation);
    return { coll, source: viewDocuments(ctx.engine, db, coll), collation };
  }
  return { coll, collation: collationFor(cmd.collation, coll) };
}

function findOptions(cmd: Document, db: string, name: string, ctx: CommandContext): FindOptions {
  const { source, collation } = readSource(cmd, db, name, ctx);
  return { collation, source, variables: evaluateLet(cmd.let) };
}

export function find(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'find');
  const base = findOptions(cmd, db, name, ctx);
  const result = runFind(ctx.engine.collection(db, name), { ...cmd, ...base });
  const limit = Number(cmd.limit ?? 0);
  const singleBatch = cmd.singleBatch === true || limit < 0;
  let batchSize = cmd.batchSize === undefined ? undefined : Number(cmd.batchSize);
  if (limit > 0 && (batchSize === undefined || batchSize > limit))
    batchSize = Math.max(batchSize ?? 0, limit);
  return ctx.cursors.first(`${db}.${name}`, result.docs, batchSize, singleBatch);
}

export function count(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'count');
  const base = findOptions(cmd, db, name, ctx);
  const { docs } = runFind(ctx.engine.collection(db, name), {
    ...base,
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
  const base = findOptions(cmd, db, name, ctx);
  const { docs } = runFind(ctx.engine.collection(db, name), { ...base, filter: cmd.query });
  const collator = base.collation?.collator;
  // Distinct values under the collation (1 and 1.0 once, 'a' and 'A' once at strength 2),
  // each class answered with the first value seen, in BSON order (mongod collects them in
  // an ordered set).
  const sorted: unknown[] = [];
  const key = cmd.key;
  for (const doc of docs) {
    for (const v of distinctValues(doc, key.split('.'))) {
      let lo = 0;
      let hi = sorted.length;
      let found = false;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const c = compareValues(sorted[mid], v, collator);
        if (c === 0) {
          found = true;
          break;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
      }
      if (found) continue;
      sorted.splice(lo, 0, v);
    }
  }
  return { values: sorted, ok: 1 };
}

function distinctValues(v: unknown, parts: string[]): unknown[] {
  if (parts.length === 0) return Array.isArray(v) ? v : v === undefined ? [] : [v];
  if (Array.isArray(v)) return v.flatMap((el) => distinctValues(el, parts));
  if (isPlainObject(v)) return distinctValues(v[parts[0]], parts.slice(1));
  return [];
}
