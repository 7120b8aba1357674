import type { Document } from 'bson';
import { MongoCommandError, errorReply } from '../errors';
import { aggregate } from './aggregate';
import { create, drop, dropDatabase, listCollections, renameCollection } from './collections';
import type { CommandContext, Handler } from './context';
import { getMore, killCursors } from './cursors';
import { explain } from './explain';
import { findAndModify } from './find-and-modify';
import {
  buildInfo,
  connectionStatus,
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
    rejectTransactions(cmd, name);
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
    return handler(cmd, db, ctx);
  } catch (err) {
    return errorReply(err);
  }
}

/** Multi-document transactions are refused with a clear error (a standalone mongod refuses them too). */
function rejectTransactions(cmd: Document, name: string): void {
  if (
    cmd.startTransaction === true ||
    cmd.autocommit === false ||
    name === 'commitTransaction' ||
    name === 'abortTransaction'
  ) {
    // Not IllegalOperation (20): the driver rewrites that code on writes into a retryWrites hint.
    throw new MongoCommandError(
      'OperationNotSupportedInTransaction',
      'Multi-document transactions are not supported by the MongoDB stand-in (a standalone server); use a replica-set MongoDB for them',
    );
  }
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
  endSessions: ok,
  endsessions: ok,
  killSessions: ok,
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
