import type { Document } from 'bson';
import { MongoCommandError, errorReply } from '../errors';
import { asDocument, collectionName } from './args';
import type { CommandContext } from './context';
import { matchFilter } from './query';
import { arrayFiltersOf, updateDocs } from './update-docs';

// insert, update and delete: statements in turn, failures reported per statement.

interface WriteError {
  index: number;
  code: number;
  errmsg: string;
  [k: string]: unknown;
}

function writeErrorOf(err: unknown, index: number): WriteError {
  const reply = errorReply(err);
  const { ok: _ok, ...rest } = reply;
  return { index, ...rest } as WriteError;
}

function writeReply(base: Document, errors: WriteError[]): Document {
  return errors.length > 0 ? { ...base, writeErrors: errors, ok: 1 } : { ...base, ok: 1 };
}

function statementsOf(cmd: Document, field: string): Document[] {
  const statements = cmd[field];
  if (!Array.isArray(statements))
    throw new MongoCommandError('FailedToParse', `'${field}' must be an array`);
  return statements as Document[];
}

/**
 * Runs each statement of a write; a failing one becomes a write error of the reply, and an
 * ordered write stops there.
 */
function eachStatement(
  cmd: Document,
  statements: Document[],
  run: (stmt: Document, index: number) => void,
): WriteError[] {
  const ordered = cmd.ordered !== false;
  const errors: WriteError[] = [];
  statements.forEach((stmt, i) => {
    if (ordered && errors.length > 0) return;
    try {
      run(stmt, i);
    } catch (err) {
      // A transaction's write conflict fails the whole command (with its retry label), as on mongod.
      if (err instanceof MongoCommandError && err.codeName === 'WriteConflict') throw err;
      errors.push(writeErrorOf(err, i));
    }
  });
  return errors;
}

export function insert(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'insert');
  const docs = statementsOf(cmd, 'documents');
  const coll = ctx.engine.ensureCollection(db, name);
  let n = 0;
  const errors = eachStatement(cmd, docs, (doc) => {
    coll.insert(doc);
    n++;
  });
  return writeReply({ n }, errors);
}

export function update(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'update');
  const updates = statementsOf(cmd, 'updates');
  const upserted: Document[] = [];
  let n = 0;
  let nModified = 0;
  const errors = eachStatement(cmd, updates, (stmt, i) => {
    const q = asDocument(stmt.q, 'q');
    const upsert = stmt.upsert === true;
    const coll = upsert ? ctx.engine.ensureCollection(db, name) : ctx.engine.collection(db, name);
    if (!coll) return;
    const r = updateDocs(coll, q, stmt.u, {
      multi: stmt.multi === true,
      upsert,
      arrayFilters: arrayFiltersOf(stmt.arrayFilters),
      sort: stmt.sort as Document | undefined,
    });
    if (r.upsertedId !== undefined) {
      upserted.push({ index: i, _id: r.upsertedId });
      n += 1;
    } else {
      n += r.matched;
      nModified += r.modified;
    }
  });
  const base: Document = { n, nModified };
  if (upserted.length > 0) base.upserted = upserted;
  return writeReply(base, errors);
}

export function deleteCommand(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'delete');
  const deletes = statementsOf(cmd, 'deletes');
  const coll = ctx.engine.collection(db, name);
  let n = 0;
  const errors = eachStatement(cmd, deletes, (stmt) => {
    const q = asDocument(stmt.q, 'q');
    if (!coll) return;
    let targets = matchFilter(coll, q);
    if (Number(stmt.limit) === 1) targets = targets.slice(0, 1);
    for (const doc of targets) coll.delete(doc);
    n += targets.length;
  });
  return writeReply({ n }, errors);
}
