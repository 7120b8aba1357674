import type { Document } from 'bson';
import type { Collection } from '../collection';
import { MongoCommandError, errorReply } from '../errors';
import { evaluateLet } from '../matching';
import { validateDocument } from '../validation';
import { viewNotCollection } from '../views';
import { asDocument, collationFor, collectionName } from './args';
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

// The fields of one update / delete statement MongoDB 7.0 knows (its IDL is strict: `sort`
// arrived in 8.0, and a 7.0 server refuses it).
const UPDATE_FIELDS = new Set([
  'q',
  'u',
  'c',
  'arrayFilters',
  'hint',
  'multi',
  'upsert',
  'upsertSupplied',
  'collation',
]);
const DELETE_FIELDS = new Set(['q', 'limit', 'hint', 'collation']);

function checkFields(statements: Document[], known: Set<string>, where: string): void {
  for (const stmt of statements) {
    if (!isStatement(stmt))
      throw new MongoCommandError(
        'TypeMismatch',
        `BSON field '${where}' is the wrong type, expected type 'object'`,
      );
    for (const k of Object.keys(stmt))
      if (!known.has(k))
        throw new MongoCommandError(
          'IDLUnknownField',
          `BSON field '${where}.${k}' is an unknown field.`,
        );
  }
}

function isStatement(v: unknown): v is Document {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The collection a write goes to; a view refuses writes (166). */
export function writableCollection(
  ctx: CommandContext,
  db: string,
  name: string,
  create: boolean,
): Collection | undefined {
  const existing = ctx.engine.collection(db, name);
  if (existing?.isView) throw viewNotCollection(db, name);
  return create ? ctx.engine.ensureCollection(db, name) : existing;
}

export function insert(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'insert');
  const docs = statementsOf(cmd, 'documents');
  const coll = writableCollection(ctx, db, name, true)!;
  const bypass = cmd.bypassDocumentValidation === true;
  let n = 0;
  const errors = eachStatement(cmd, docs, (doc) => {
    validateDocument(coll, doc, undefined, bypass);
    coll.insert(doc);
    n++;
  });
  return writeReply({ n }, errors);
}

export function update(cmd: Document, db: string, ctx: CommandContext): Document {
  const name = collectionName(cmd, 'update');
  const updates = statementsOf(cmd, 'updates');
  checkFields(updates, UPDATE_FIELDS, 'update.updates');
  writableCollection(ctx, db, name, false);
  const variables = evaluateLet(cmd.let);
  const bypass = cmd.bypassDocumentValidation === true;
  const upserted: Document[] = [];
  let n = 0;
  let nModified = 0;
  const errors = eachStatement(cmd, updates, (stmt, i) => {
    const q = asDocument(stmt.q, 'q');
    const upsert = stmt.upsert === true;
    const coll = writableCollection(ctx, db, name, upsert);
    const collation = collationFor(stmt.collation, coll);
    if (!coll) return;
    const constants = evaluateLet(stmt.c);
    const r = updateDocs(coll, q, stmt.u, {
      multi: stmt.multi === true,
      upsert,
      arrayFilters: arrayFiltersOf(stmt.arrayFilters),
      collation,
      variables: constants || variables ? { ...variables, ...constants } : undefined,
      bypassValidation: bypass,
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
  checkFields(deletes, DELETE_FIELDS, 'delete.deletes');
  const coll = writableCollection(ctx, db, name, false);
  const variables = evaluateLet(cmd.let);
  let n = 0;
  const errors = eachStatement(cmd, deletes, (stmt) => {
    const q = asDocument(stmt.q, 'q');
    const collation = collationFor(stmt.collation, coll);
    if (!coll) return;
    let targets = matchFilter(coll, q, collation, variables);
    if (Number(stmt.limit) === 1) targets = targets.slice(0, 1);
    for (const doc of targets) coll.delete(doc);
    n += targets.length;
  });
  return writeReply({ n }, errors);
}
