import net from 'node:net';
import type { Document } from 'bson';
import { runCommand, type CommandContext } from './commands';
import { CursorStore } from './cursors';
import { Engine } from './engine';
import { valueKey } from './keys';
import { Persistence, fsyncFromEnv } from './persistence';
import { Sessions } from './sessions';
import { FrameReader, decodeMessage, encodeOpMsg, encodeOpReply } from './wire';

export interface MongoStandInOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Directory for snapshot + journal; without it the data lives in memory only. */
  dataDir?: string;
  /**
   * fsync the journal before acknowledging each write or commit (with `dataDir`). Default true,
   * unless MONGO_STANDIN_FSYNC is `false`/`0`/`off`: faster, but a power loss (not a process
   * crash) may then lose the last acknowledged writes.
   */
  fsync?: boolean;
  /**
   * Answer the handshake as the primary of a one-member replica set of this name (`setName`,
   * `hosts`, `primary`), so URLs with `?replicaSet=<name>` connect. Transactions work either
   * way; without it the stand-in presents itself as a standalone server (the default). Also
   * MONGO_STANDIN_REPLICA_SET.
   */
  replicaSet?: string;
  /** An open transaction idle this long is aborted (mongod's transactionLifetimeLimitSeconds). Default 60 s. */
  transactionLifetimeMs?: number;
  /**
   * Called once when the journal could not be written or synced: the stand-in has then
   * closed every connection and stopped listening (as mongod stops on a journal failure),
   * since it can no longer promise that an acknowledged write is on disk.
   */
  onFatal?: (err: Error) => void;
}

export interface MongoStandIn {
  /** `mongodb://host:port` (append `/dbName` for a database). */
  url: string;
  port: number;
  /** The in-process engine, for introspection in tests and benchmarks. */
  engine: Engine;
  stop(): Promise<void>;
}

const TTL_SWEEP_MS = 10_000;

/**
 * Starts a MongoDB wire-protocol server backed by the in-memory engine. Each command
 * is decoded and executed synchronously, so commands never interleave; a write's reply waits
 * for its journal sync (group commit, see Persistence), and a connection's replies keep
 * their order.
 */
export async function startMongoStandIn(options: MongoStandInOptions = {}): Promise<MongoStandIn> {
  const host = options.host ?? '127.0.0.1';
  const engine = new Engine();
  const persistence = options.dataDir
    ? new Persistence(options.dataDir, { fsync: options.fsync ?? fsyncFromEnv() })
    : undefined;
  if (persistence) {
    persistence.load(engine);
    engine.setListener((change) => persistence.record(change));
  }
  const cursors = new CursorStore();
  const sessions = new Sessions(engine, options.transactionLifetimeMs);
  const replicaSetName = options.replicaSet ?? (process.env.MONGO_STANDIN_REPLICA_SET || undefined);
  let replicaSet: CommandContext['replicaSet'];
  const sockets = new Set<net.Socket>();
  const startedAt = Date.now();
  let nextConnectionId = 1;
  let fatal: Error | undefined;
  const failed = (err: Error): void => {
    if (fatal) return;
    fatal = err;
    process.stderr.write(`mongo stand-in: journal failed (${err.message}); stopping\n`);
    server.close();
    for (const socket of sockets) socket.destroy();
    options.onFatal?.(err);
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const ctx: CommandContext = {
      engine,
      cursors,
      sessions,
      replicaSet,
      connectionId: nextConnectionId++,
      startedAt,
      connections: () => sockets.size,
    };
    const reader = new FrameReader();
    // The last reply still waiting for a journal sync: later replies go out after it.
    let queued: Promise<void> | undefined;
    const send = (reply: Buffer, durable: Promise<void> | undefined): void => {
      if (!durable && !queued) {
        socket.write(reply);
        return;
      }
      const sent = Promise.all([queued, durable]).then(
        () => {
          if (!socket.destroyed) socket.write(reply);
        },
        (err: unknown) => failed(err instanceof Error ? err : new Error(String(err))),
      );
      queued = sent;
      void sent.then(() => {
        if (queued === sent) queued = undefined;
      });
    };
    socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = reader.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (fatal) return;
        let reply: Buffer;
        let durable: Promise<void> | undefined;
        try {
          const request = decodeMessage(frame);
          const result: Document = runCommand(request.command, ctx);
          durable = persistence?.commit(engine);
          if (request.noReply) {
            durable?.catch((err: Error) => failed(err));
            continue;
          }
          reply = request.legacy
            ? encodeOpReply(request.header.requestId, result)
            : encodeOpMsg(request.header.requestId, result);
        } catch {
          // Undecodable frame: MongoDB closes the connection too.
          socket.destroy();
          return;
        }
        send(reply, durable);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });

  const sweeper = setInterval(() => {
    cursors.reap();
    sessions.reap();
    if (fatal) return;
    sweepExpired(engine);
    persistence?.commit(engine)?.catch((err: Error) => failed(err));
  }, TTL_SWEEP_MS);
  sweeper.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  if (replicaSetName) replicaSet = { name: replicaSetName, me: `${host}:${address.port}` };
  let stopped = false;
  return {
    url: `mongodb://${host}:${address.port}`,
    port: address.port,
    engine,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(sweeper);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      sessions.abortAll();
      await persistence?.close(engine);
    },
  };
}

/** TTL indexes: documents whose indexed date is older than expireAfterSeconds go away. */
function sweepExpired(engine: Engine, now = Date.now()): void {
  for (const colls of engine.dbs.values()) {
    for (const coll of colls.values()) {
      for (const index of coll.indexes.values()) {
        const ttl = index.spec.expireAfterSeconds;
        if (typeof ttl !== 'number' || index.fields.length !== 1) continue;
        const field = index.fields[0];
        // Committed documents only: one an open transaction changed waits for its outcome.
        for (const doc of [...coll.committedDocs()]) {
          if (coll.pending.has(valueKey(doc._id))) continue;
          const value = doc[field];
          const dates = (Array.isArray(value) ? value : [value]).filter(
            (v): v is Date => v instanceof Date,
          );
          if (dates.length > 0 && Math.min(...dates.map((d) => d.getTime())) + ttl * 1000 <= now)
            coll.delete(doc);
        }
      }
    }
  }
}
