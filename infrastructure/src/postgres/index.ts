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
const [pglitePath, socketPath, host, port, dataDir, maxConnections] = process.argv.slice(1);
const { PGlite } = require(pglitePath);
const { PGLiteSocketServer } = require(socketPath);
(async () => {
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  const server = new PGLiteSocketServer({ db, host, port: Number(port), maxConnections: Number(maxConnections) });
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
