import { ObjectId, type Document } from 'bson';
import { MAX_BSON_SIZE } from '../collection';
import type { CommandContext, Handler } from './context';

// What drivers and tools ask before (and besides) any work: the handshake, build and
// parameter queries, sessions and diagnostics, answered with fixed values.

export const SERVER_VERSION = '7.0.0';
const MAX_WIRE_VERSION = 21; // MongoDB 7.0
const MAX_MESSAGE_BYTES = 48_000_000;

export function hello(cmd: Document, _db: string, ctx: CommandContext): Document {
  const reply: Document = {
    isWritablePrimary: true,
    ismaster: true,
    maxBsonObjectSize: MAX_BSON_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
  if (cmd.helloOk === true) reply.helloOk = true;
  if (ctx.replicaSet) {
    // The primary of a one-member replica set (mongod --replSet after rs.initiate()).
    const { name, me } = ctx.replicaSet;
    Object.assign(reply, {
      setName: name,
      setVersion: 1,
      hosts: [me],
      primary: me,
      me,
      secondary: false,
      electionId: ELECTION_ID,
      lastWrite: { lastWriteDate: new Date(), majorityWriteDate: new Date() },
    });
  }
  return reply;
}

// One election for the life of the process (the member never steps down).
const ELECTION_ID = new ObjectId('7fffffff0000000000000001');

/** Commands with nothing to do here: ping, refreshSessions. */
export const ok: Handler = () => ({ ok: 1 });

/** endSessions / killSessions: the sessions' open transactions are aborted. */
export const endSessions: Handler = (cmd, _db, ctx) => {
  ctx.sessions.end(cmd.endSessions ?? cmd.endsessions);
  return { ok: 1 };
};
export const killSessions: Handler = (cmd, _db, ctx) => {
  ctx.sessions.end(cmd.killSessions);
  return { ok: 1 };
};

export function buildInfo(): Document {
  return {
    version: SERVER_VERSION,
    gitVersion: 'ecom-mongo-stand-in',
    versionArray: [7, 0, 0, 0],
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_SIZE,
    storageEngines: ['stand-in'],
    modules: [],
    ok: 1,
  };
}

export function getParameter(cmd: Document): Document {
  const reply: Document = { ok: 1 };
  const all = cmd.getParameter === '*' || cmd.featureCompatibilityVersion !== undefined;
  if (all) reply.featureCompatibilityVersion = { version: '7.0' };
  return reply;
}

export const getLog: Handler = () => ({ totalLinesWritten: 0, log: [], ok: 1 });
export const getCmdLineOpts: Handler = () => ({ argv: ['mongo-stand-in'], parsed: {}, ok: 1 });
export const hostInfo: Handler = () => ({
  system: { hostname: 'mongo-stand-in' },
  os: {},
  extra: {},
  ok: 1,
});
export const whatsmyuri: Handler = () => ({ you: '127.0.0.1', ok: 1 });
export const connectionStatus: Handler = () => ({
  authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] },
  ok: 1,
});
