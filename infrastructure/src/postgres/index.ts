import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';

export interface PostgresStandInOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Directory for PGlite's files; without it the database lives in memory. */
  dataDir?: string;
  /**
   * Client connections accepted at once (default 100). pg pools larger than this get
   * "Too many connections", so keep every pool's `max` below it.
   */
  maxConnections?: number;
  /** Name used in the returned URL; PGlite ignores it and serves its single database. */
  database?: string;
  /**
   * Run PGlite in a child process. Default: only under jest, whose module sandbox cannot
   * run PGlite (it loads Node built-ins with dynamic `import()`).
   */
  childProcess?: boolean;
}

export interface PostgresStandIn {
  /** `postgres://postgres@host:port/<database>`, ready for `new pg.Pool({ connectionString })`. */
  url: string;
  port: number;
  /** The PGlite instance when it runs in this process. */
  db?: PGlite;
  stop(): Promise<void>;
}

/**
 * PostgreSQL from PGlite (Postgres compiled to WASM, one database, one backend) served
 * over the wire protocol by pglite-socket. Queries of all connections are queued onto
 * that backend; a connection inside a transaction has it to itself until COMMIT or
 * ROLLBACK, so transactions are serialised (see README for what that implies).
 */
export async function startPostgresStandIn(
  options: PostgresStandInOptions = {},
): Promise<PostgresStandIn> {
  const host = options.host ?? '127.0.0.1';
  const maxConnections = options.maxConnections ?? 100;
  if (options.dataDir) fs.mkdirSync(options.dataDir, { recursive: true });
  const useChild = options.childProcess ?? process.env.JEST_WORKER_ID !== undefined;
  const started = useChild
    ? await startInChild(host, options.port ?? 0, options.dataDir, maxConnections)
    : await startInProcess(host, options.port ?? 0, options.dataDir, maxConnections);
  return {
    ...started,
    url: `postgres://postgres@${host}:${started.port}/${options.database ?? 'postgres'}`,
  };
}

type Started = Omit<PostgresStandIn, 'url'>;

/**
 * pglite-socket queues the messages of all connections one by one onto PGlite's single
 * session, keeping a connection's messages together only inside a transaction. The extended
 * protocol (Parse/Bind/Describe/Execute … Sync, which pg uses for every parameterised query)
 * then interleaves between connections outside transactions, and one connection executes
 * another's unnamed statement ("portal does not exist", wrong rows). This replaces the queue's
 * scheduler so that a connection keeps the backend from its first extended-protocol message
 * to its Sync, as well as for a whole transaction.
 *
 * Named prepared statements belong to a connection in PostgreSQL, but PGlite has one session:
 * two connections preparing the same name would collide ("already exists") and a statement
 * would outlive its connection. So the names a connection gives (in Parse, Bind, Describe and
 * Close) get a prefix of its own, and its statements are deallocated when it goes.
 *
 * Plain JS source, shared with the child process; it checks the internals it relies on and
 * fails loudly if a release changes them.
 */
const BATCH_SAFE_SOURCE = `
function makeBatchSafe(server) {
  const q = server.queryQueue;
  if (!q || !Array.isArray(q.queue) || typeof q.clearQueueForHandler !== 'function' ||
      typeof q.clearTransactionIfNeeded !== 'function' || !q.db) {
    throw new Error('@electric-sql/pglite-socket internals changed: cannot make its query queue batch-safe');
  }
  // Parse, Bind, Describe, Execute, Close, Flush: the batch continues until Sync.
  const IN_BATCH = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]);
  const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
  let owner = null;
  // Prepared statement names per connection (handler), as the session knows them.
  const statements = new Map();
  // Statements of connections gone, deallocated once no transaction holds the session.
  const orphans = [];
  // Rewrites the statement and portal names of one message into the connection's own space.
  const scoped = (item) => {
    const m = Buffer.from(item.message.buffer, item.message.byteOffset, item.message.byteLength);
    const type = m[0];
    // Parse: statement; Bind: portal, statement; Describe and Close: 'S' or 'P', then a name.
    const kinds = type === 0x50 ? ['S'] : type === 0x42 ? ['P', 'S'] : type === 0x44 || type === 0x43 ? [String.fromCharCode(m[5])] : null;
    if (!kinds) return item.message;
    let at = type === 0x44 || type === 0x43 ? 6 : 5;
    const parts = [m.subarray(5, at)];
    for (const kind of kinds) {
      const end = m.indexOf(0, at);
      if (end < 0) return item.message;
      const name = m.toString('utf8', at, end);
      const own = name === '' ? '' : 'c' + item.handlerId + '_' + name;
      if (own && kind === 'S' && type === 0x50) {
        if (!statements.has(item.handlerId)) statements.set(item.handlerId, new Set());
        statements.get(item.handlerId).add(own);
      } else if (own && kind === 'S' && type === 0x43) statements.get(item.handlerId)?.delete(own);
      parts.push(Buffer.from(own + '\\0', 'utf8'));
      at = end + 1;
    }
    parts.push(m.subarray(at));
    const body = Buffer.concat(parts);
    const out = Buffer.alloc(5 + body.length);
    out[0] = type;
    out.writeInt32BE(4 + body.length, 1);
    body.copy(out, 5);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  };
  const deallocateOrphans = async (db) => {
    while (orphans.length > 0 && owner === null && !db.isInTransaction()) {
      const name = orphans.shift();
      // exec takes PGlite's query lock itself (inside runExclusive it would wait for itself).
      await db.exec('DEALLOCATE "' + name.replace(/"/g, '""') + '"').catch(() => undefined);
    }
  };
  q.processQueue = async function () {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        await deallocateOrphans(this.db);
        let index = 0;
        if (owner !== null) {
          index = this.queue.findIndex((item) => item.handlerId === owner);
          if (index === -1) break;
        }
        const item = this.queue.splice(index, 1)[0];
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(scoped(item), {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (err) {
          owner = this.db.isInTransaction() ? item.handlerId : null;
          item.reject(err);
          continue;
        }
        owner = IN_BATCH.has(item.message[0]) || this.db.isInTransaction() ? item.handlerId : null;
        this.lastHandlerId = item.handlerId;
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  };
  const clearTransaction = q.clearTransactionIfNeeded.bind(q);
  q.clearTransactionIfNeeded = async function (handlerId) {
    // A connection that went away mid-transaction is rolled back by the original code; one
    // that went away mid-batch gets a Sync so the session leaves the batch.
    if (owner === handlerId) {
      this.lastHandlerId = handlerId;
      if (!this.db.isInTransaction()) {
        await this.db.runExclusive(() => this.db.execProtocolRawStream(SYNC, { onRawData: () => undefined }));
      }
    }
    await clearTransaction(handlerId);
    orphans.push(...(statements.get(handlerId) ?? []));
    statements.delete(handlerId);
    if (owner === handlerId) owner = null;
    if (!this.processing) {
      await deallocateOrphans(this.db);
      await this.processQueue();
    }
  };
}
`;

type BatchSafe = (server: unknown) => void;
// Compiled from source text because the same code runs in the child process.
const makeBatchSafe = new Function(`${BATCH_SAFE_SOURCE}; return makeBatchSafe;`)() as BatchSafe;

async function startInProcess(
  host: string,
  port: number,
  dataDir: string | undefined,
  maxConnections: number,
): Promise<Started> {
  const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
  const { PGLiteSocketServer } =
    require('@electric-sql/pglite-socket') as typeof import('@electric-sql/pglite-socket');
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const server = new PGLiteSocketServer({ db, host, port, maxConnections });
  makeBatchSafe(server);
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  let stopped = false;
  return {
    port: Number(server.getServerConn().split(':').pop()),
    db,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}

// Plain JS run by `node -e`: starts the server, prints its port, stops when stdin closes
// (the parent exited or called stop()), so no orphan outlives a crashed test worker.
const CHILD_SOURCE = `
${BATCH_SAFE_SOURCE}
const [pglitePath, socketPath, host, port, dataDir, maxConnections] = process.argv.slice(1);
const { PGlite } = require(pglitePath);
const { PGLiteSocketServer } = require(socketPath);
(async () => {
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const server = new PGLiteSocketServer({ db, host, port: Number(port), maxConnections: Number(maxConnections) });
  makeBatchSafe(server);
  await server.start();
  process.stdout.write('PORT ' + server.getServerConn().split(':').pop() + '\\n');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    await db.close();
    process.exit(0);
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.on('SIGTERM', stop);
  process.stdin.resume();
})().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\\n');
  process.exit(1);
});
`;

async function startInChild(
  host: string,
  port: number,
  dataDir: string | undefined,
  maxConnections: number,
): Promise<Started> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      CHILD_SOURCE,
      require.resolve('@electric-sql/pglite'),
      require.resolve('@electric-sql/pglite-socket'),
      host,
      String(port),
      dataDir ?? '',
      String(maxConnections),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const actualPort = await new Promise<number>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) =>
      reject(new Error(`PGlite stand-in exited with code ${code}: ${err.trim()}`)),
    );
    child.once('error', reject);
  });
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  let stopped = false;
  return {
    port: actualPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
