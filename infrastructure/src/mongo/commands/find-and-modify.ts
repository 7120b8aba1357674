import type { Document } from 'bson';
import { find as mingoFind } from 'mingo';
import { MongoCommandError } from '../errors';
import { isPlainObject } from '../keys';
import { asDocument, collectionName } from './args';
import type { CommandContext } from './context';
import { idFirst, matchFilter } from './query';
import { arrayFiltersOf, updateDocs } from './update-docs';

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
  const project = (doc: Document | undefined): Document | null => {
    if (!doc) return null;
    return fields ? idFirst(mingoFind([doc], {}, fields).all()[0] as Document) : doc;
  };
  if (cmd.remove === true) {
    const coll = ctx.engine.collection(db, name);
    if (!coll) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    let targets = matchFilter(coll, q);
    if (sort) targets = mingoFind(targets, {}).sort(sort).all() as Document[];
    const doc = targets[0];
    if (doc) coll.delete(doc);
    return { lastErrorObject: { n: doc ? 1 : 0 }, value: project(doc), ok: 1 };
  }
  if (cmd.update === undefined)
    throw new MongoCommandError(
      'FailedToParse',
      'Either an update or remove=true must be specified',
    );
  const upsert = cmd.upsert === true;
  const coll = upsert ? ctx.engine.ensureCollection(db, name) : ctx.engine.collection(db, name);
  if (!coll) return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  const arrayFilters = arrayFiltersOf(cmd.arrayFilters);
  const r = updateDocs(coll, q, cmd.update, { multi: false, upsert, arrayFilters, sort });
  const returnNew = cmd.new === true;
  if (r.upsertedId !== undefined) {
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: r.upsertedId },
      value: returnNew ? project(r.after) : null,
      ok: 1,
    };
  }
  if (r.matched === 0)
    return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  return {
    lastErrorObject: { n: 1, updatedExisting: true },
    value: project(returnNew ? r.after : r.before),
    ok: 1,
  };
}
