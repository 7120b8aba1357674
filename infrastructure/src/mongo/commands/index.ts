import type { Document } from 'bson';
import { MongoCommandError, errorReply } from '../errors';
import { aggregate } from './aggregate';
import {
  collMod,
  create,
  drop,
  dropDatabase,
  listCollections,
  renameCollection,
} from './collections';
import type { CommandContext, Handler } from './context';
import { getMore, killCursors } from './cursors';
import { explain } from './explain';
import { findAndModify } from './find-and-modify';
import {
  buildInfo,
  connectionStatus,
  endSessions,
  killSessions,
  getCmdLineOpts,
  getLog,
  getParameter,
  hello,
  hostInfo,
  ok,
  whatsmyuri,
} from './handshake';
import { createIndexes, deleteIndexes, dropIndexes, listIndexes } from './indexes';
import { count, distinct, find } from './reads';
import { collStats, dbStats, listDatabases, serverStatus } from './stats';
import { deleteCommand, insert, update } from './writes';

export type { CommandContext } from './context';

/** Runs one command synchronously and always returns a reply document. */
export function runCommand(cmd: Document, ctx: CommandContext): Document {
  const name = Object.keys(cmd)[0];
  const db = typeof cmd.$db === 'string' ? cmd.$db : 'admin';
  try {
    if (name === undefined) throw new MongoCommandError('FailedToParse', 'empty command');
    if (cmd.lsid !== undefined) ctx.sessions.touch(cmd.lsid);
    if (isTransactionCommand(cmd, name)) return runInTransaction(cmd, name, db, ctx);
    const handler = lookupHandler(name);
    if (!handler) {
      if (name === '$legacyFind') {
        throw new MongoCommandError(
          'CommandNotFound',
          'legacy OP_QUERY find is not supported; use OP_MSG',
        );
      }
      throw new MongoCommandError('CommandNotFound', `no such command: '${name}'`);
    }
    if (cmd.txnNumber !== undefined && RETRYABLE_WRITES.has(name))
      return runRetryableWrite(cmd, name, db, ctx, handler);
    return handler(cmd, db, ctx);
  } catch (err) {
    return errorReply(err);
  }
}

/** A statement of a multi-document transaction, or its commitTransaction / abortTransaction. */
function isTransactionCommand(cmd: Document, name: string): boolean {
  return (
    cmd.autocommit === false ||
    cmd.startTransaction === true ||
    name === 'commitTransaction' ||
    name === 'abortTransaction'
  );
}

// What mongod allows inside a transaction (besides commit and abort).
const TRANSACTION_COMMANDS = new Set([
  'find',
  'getMore',
  'killCursors',
  'count',
  'distinct',
  'aggregate',
  'insert',
  'update',
  'delete',
  'findAndModify',
  'create',
  'createIndexes',
]);

const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify']);

function txnNumberOf(cmd: Document): number {
  const n = Number(cmd.txnNumber);
  if (cmd.txnNumber === undefined || !Number.isSafeInteger(n) || n < 0)
    throw new MongoCommandError('InvalidOptions', 'a transaction needs a txnNumber');
  return n;
}

/**
 * Runs a statement inside its session's transaction: its writes stay pending (invisible to
 * others) until commitTransaction; a failed statement aborts the transaction, as on mongod.
 */
function runInTransaction(cmd: Document, name: string, db: string, ctx: CommandContext): Document {
  if (cmd.autocommit !== false)
    throw new MongoCommandError('InvalidOptions', "transactions need 'autocommit: false'");
  const txnNumber = txnNumberOf(cmd);
  if (name === 'commitTransaction') return ctx.sessions.commit(cmd.lsid, txnNumber);
  if (name === 'abortTransaction') return ctx.sessions.abort(cmd.lsid, txnNumber);
  const handler = lookupHandler(name);
  const canonical = name === 'findandmodify' ? 'findAndModify' : name;
  if (!handler || !TRANSACTION_COMMANDS.has(canonical)) {
    throw new MongoCommandError(
      'OperationNotSupportedInTransaction',
      `Cannot run '${name}' in a multi-document transaction.`,
    );
  }
  const txn = ctx.sessions.transactionFor(cmd.lsid, txnNumber, cmd.startTransaction === true);
  let reply: Document;
  try {
    reply = ctx.engine.within(txn, () => handler(cmd, db, ctx));
  } catch (err) {
    reply = errorReply(err);
  }
  if (reply.ok !== 1 || (Array.isArray(reply.writeErrors) && reply.writeErrors.length > 0)) {
    ctx.engine.abortTransaction(
      txn,
      `a statement failed: ${String(reply.errmsg ?? reply.writeErrors?.[0]?.errmsg)}`,
    );
  }
  return reply;
}

/**
 * A retryable write (txnNumber, no autocommit; sent by drivers to replica-set members): run
 * once, and a retry of the same txnNumber answered with the first reply instead of running again.
 */
function runRetryableWrite(
  cmd: Document,
  name: string,
  db: string,
  ctx: CommandContext,
  handler: Handler,
): Document {
  const txnNumber = txnNumberOf(cmd);
  const earlier = ctx.sessions.retriedWrite(cmd.lsid, txnNumber);
  if (earlier) return earlier;
  const reply = handler(cmd, db, ctx);
  if (reply.ok === 1) ctx.sessions.rememberWrite(cmd.lsid, txnNumber, reply);
  return reply;
}

/** Exact name first, then lower case (drivers and shells spell some commands both ways). */
function lookupHandler(name: string): Handler | undefined {
  if (Object.hasOwn(HANDLERS, name)) return HANDLERS[name];
  const lower = name.toLowerCase();
  return Object.hasOwn(HANDLERS, lower) ? HANDLERS[lower] : undefined;
}

const HANDLERS: Record<string, Handler> = {
  hello,
  ismaster: hello,
  isMaster: hello,
  ping: ok,
  buildInfo,
  buildinfo: buildInfo,
  getParameter,
  getparameter: getParameter,
  endSessions,
  endsessions: endSessions,
  killSessions,
  refreshSessions: ok,
  getLog,
  getCmdLineOpts,
  hostInfo,
  whatsmyuri,
  connectionStatus,
  serverStatus,
  listDatabases,
  dbStats,
  collStats,
  create,
  collMod,
  drop,
  dropDatabase,
  listCollections,
  renameCollection,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes,
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate,
  explain,
  insert,
  update,
  delete: deleteCommand,
  findAndModify,
  findandmodify: findAndModify,
};
