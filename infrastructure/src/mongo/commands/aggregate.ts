import type { Document } from 'bson';
import { Aggregator } from 'mingo';
import { MongoCommandError } from '../errors';
import { cloneDocument, isPlainObject } from '../keys';
import { batchSizeOf, collectionName } from './args';
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

export function aggregate(cmd: Document, db: string, ctx: CommandContext): Document {
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
    source = coll ? coll.visibleDocs() : [];
  }
  // mingo may modify its input in place (e.g. $addFields on a dotted path): give it copies,
  // of joined ($lookup) documents too.
  const readOnly = stages.every((s) => READ_ONLY_STAGES.has(Object.keys(s)[0]));
  if (!readOnly) source = source.map(cloneDocument);
  const collectionResolver = (from: string): Document[] => {
    const other = ctx.engine.collection(db, from);
    const docs = other ? other.visibleDocs() : [];
    return readOnly ? docs : docs.map(cloneDocument);
  };
  const docs = new Aggregator(stages, { collectionResolver }).run(source) as Document[];
  if (cmd.explain === true) return { stages: pipeline, ok: 1 };
  return ctx.cursors.first(`${db}.${name}`, docs, batchSizeOf(cmd.cursor));
}
