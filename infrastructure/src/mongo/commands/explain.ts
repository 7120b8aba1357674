import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { asDocument, collationFor } from './args';
import type { CommandContext } from './context';
import { runFind, type FindOptions } from './query';

/** The plan the index planner picks for a find, count, findAndModify or an aggregate's leading $match. */
export function explain(cmd: Document, db: string, ctx: CommandContext): Document {
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
  const coll = ctx.engine.collection(db, name);
  const result = runFind(coll, { ...opts, collation: collationFor(inner.collation, coll) });
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
