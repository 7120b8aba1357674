import path from 'node:path';
import { Client } from 'pg';
import { startMongoStandIn, startPostgresStandIn } from '@ecom/infrastructure';

export interface StoreEndpoint {
  url: string;
  /** "embedded" when a stand-in was started, else "external". */
  kind: 'embedded' | 'external';
  stop(): Promise<void>;
}

const noop = async () => undefined;

/**
 * The variables that point the platform at servers instead of its embedded stand-ins: what a
 * run "as on a fresh machine" (npm run test:postman, the platform tests) leaves out.
 */
export const EXTERNAL_SERVER_VARIABLES = [
  'MONGO_URL',
  'POSTGRES_URL',
  'REDIS_URL',
  'AMQP_URL',
  'BLOCKCHAIN_RPC_URL',
  'EVENT_BUS',
];

/**
 * MONGO_URL (a server URL; each service gets its own database on it) or the stand-in. The
 * stand-in stops when its journal cannot be written (a full disk: see its `onFatal`), as
 * mongod does; here nothing else would start it again, so this supervises it as a service
 * manager would: it starts again on the same port, from its files, after `restartDelayMs`,
 * then twice as long each time it fails to, up to 30 s, until it can write. The services see
 * a store that was away (503, consumers waiting), never a lost acknowledged write: the stand-in
 * acknowledges a write only once it is on disk.
 */
export async function startMongo(
  dir: string,
  env: NodeJS.ProcessEnv,
  port: number,
  /** The wait before the first try to start again, doubling up to `maxRestartDelayMs` (30 s). */
  options: { restartDelayMs?: number; maxRestartDelayMs?: number } = {},
): Promise<StoreEndpoint> {
  if (env.MONGO_URL) return { url: env.MONGO_URL, kind: 'external', stop: noop };
  const dataDir = path.join(dir, 'mongo');
  const firstDelayMs = options.restartDelayMs ?? 1000;
  const maxDelayMs = options.maxRestartDelayMs ?? 30_000;
  let stopped = false;
  let wake: (() => void) | undefined;
  let restarting: Promise<void> | undefined;
  const start = (onPort: number) =>
    startMongoStandIn({ port: onPort, dataDir, onFatal: () => restart() });
  let standIn = await start(port);
  const restart = () => {
    restarting = (async () => {
      await standIn.stop().catch(() => undefined);
      for (let delay = firstDelayMs; !stopped; delay = Math.min(delay * 2, maxDelayMs)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, delay);
        });
        if (stopped) return;
        try {
          standIn = await start(standIn.port);
          process.stderr.write(`mongo stand-in: started again on port ${standIn.port}\n`);
          return;
        } catch (err) {
          process.stderr.write(
            `mongo stand-in: cannot start again yet (${err instanceof Error ? err.message : String(err)}); next try in ${Math.min(delay * 2, maxDelayMs) / 1000} s\n`,
          );
        }
      }
    })();
  };
  return {
    url: standIn.url,
    kind: 'embedded',
    async stop() {
      stopped = true;
      wake?.();
      await restarting;
      await standIn.stop();
    },
  };
}

/** Replaces the database of a MongoDB URL, keeping hosts and options. */
export function mongoDatabaseUrl(serverUrl: string, db: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${db}`;
  return url.toString();
}

async function ensurePostgresDatabase(adminUrl: string, db: string): Promise<string> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    // Identifiers cannot be parameters; `db` is one of our own constant names.
    if (!rowCount) await client.query(`CREATE DATABASE "${db.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${db}`;
  return url.toString();
}

/**
 * A PostgreSQL database per service: on POSTGRES_URL's server when set (created if
 * missing), else one PGlite stand-in per database (PGlite serves a single database).
 */
export async function startPostgres(
  dir: string,
  env: NodeJS.ProcessEnv,
  db: string,
  port: number,
): Promise<StoreEndpoint> {
  if (env.POSTGRES_URL) {
    return {
      url: await ensurePostgresDatabase(env.POSTGRES_URL, db),
      kind: 'external',
      stop: noop,
    };
  }
  const standIn = await startPostgresStandIn({
    port,
    dataDir: path.join(dir, 'postgres', db),
    database: db,
    // In-process, except under jest whose module sandbox cannot load PGlite.
    childProcess: process.env.JEST_WORKER_ID !== undefined,
  });
  return { url: standIn.url, kind: 'embedded', stop: () => standIn.stop() };
}
