import type { Document } from 'bson';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { evaluateLet, sortDocs, sortSpecOf } from '../matching';
import { asDocument, collationFor, collectionName } from './args';
import type { CommandContext } from './context';
import { matchFilter, project } from './query';
import { arrayFiltersOf, updateDocs } from './update-docs';
import { writableCollection } from './writes';

/** findOneAndUpdate/Replace/Delete: one document, answered as it was before or after the change. */
export function findAndModify(cmd: Document, db: string, ctx: CommandContext): Document {
  const name =
    typeof cmd.findAndModify === 'string'
      ? cmd.findAndModify
      : collectionName(cmd, 'findandmodify');
  const q = asDocument(cmd.query, 'query');
  const sort = isPlainObject(cmd.sort) && Object.keys(cmd.sort).length > 0 ? cmd.sort : undefined;
  const fields =
    isPlainObject(cmd.fields) && Object.keys(cmd.fields).length > 0 ? cmd.fields : undefined;
  const variables = evaluateLet(cmd.let);
  const existing = writableCollection(ctx, db, name, false);
  const collation = collationFor(cmd.collation, existing);
  const match = { collation, variables };
  const projectOne = (doc: Document | undefined): Document | null => {
    if (!doc) return null;
    return fields ? project([doc], fields, q, match, 'findAndModify')[0] : doc;
  };
  if (cmd.remove === true) {
    if (cmd.update !== undefined)
      throw new MongoCommandError('FailedToParse', 'Cannot specify both an update and remove=true');
    const coll = existing;
    if (!coll) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    let targets = matchFilter(coll, q, collation, variables);
    if (sort) targets = sortDocs(targets, sortSpecOf(sort), collation?.collator);
    const doc = targets[0];
    const value = projectOne(doc);
    if (doc) coll.delete(doc);
    return { lastErrorObject: { n: doc ? 1 : 0 }, value, ok: 1 };
  }
  if (cmd.update === undefined)
    throw new MongoCommandError(
      'FailedToParse',
      'Either an update or remove=true must be specified',
    );
  const upsert = cmd.upsert === true;
  const coll = writableCollection(ctx, db, name, upsert);
  if (!coll) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  const arrayFilters = arrayFiltersOf(cmd.arrayFilters);
  const r = updateDocs(coll, q, cmd.update, {
    multi: false,
    upsert,
    arrayFilters,
    sort,
    collation,
    variables,
    bypassValidation: cmd.bypassDocumentValidation === true,
  });
  const returnNew = cmd.new === true;
  if (r.upsertedId !== undefined) {
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: r.upsertedId },
      value: returnNew ? projectOne(r.after) : null,
      ok: 1,
    };
  }
  if (r.matched === 0)
    return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  return {
    lastErrorObject: { n: 1, updatedExisting: true },
    value: projectOne(returnNew ? r.after : r.before),
    ok: 1,
  };
}
