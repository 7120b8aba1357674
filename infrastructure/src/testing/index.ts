import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import { startMongoStandIn } from '../mongo/server';

/**
 * Test helpers every service's tests use (`@ecom/infrastructure/testing`):
 * real servers when their URL is set (always in CI), embedded stand-ins otherwise,
 * and a database of its own for every call so test files can run in parallel.
 */

export interface TestMongo {
  /** Connection string including the database: `mongodb://host:port/<dbName>`. */
  url: string;
  dbName: string;
  /** Drops the database (and stops the stand-in if one was started). */
  cleanup(): Promise<void>;
}

export interface TestPostgres {
  /** Connection string of a database created for this call. */
  url: string;
  /** Drops that database (terminating its connections first) or stops the stand-in. */
  cleanup(): Promise<void>;
}

export type ServerKind = 'redis' | 'amqp' | 'postgres';

const ENV_VARS: Record<ServerKind, string> = {
  redis: 'REDIS_URL',
  amqp: 'AMQP_URL',
  postgres: 'POSTGRES_URL',
};

let counter = 0;

/** `test_<label>_<pid>_<n>_<random>`: unique across parallel jest workers and reruns. */
export function uniqueDatabaseName(label = 'db', maxLength = 63): string {
  const safe =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'db';
  const suffix = `_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`;
  return `test_${safe}`.slice(0, maxLength - suffix.length) + suffix;
}

/** A MongoDB database for one test file: `MONGO_URL`'s server, else an in-process stand-in. */
export async function createTestMongo(label?: string): Promise<TestMongo> {
  const dbName = uniqueDatabaseName(label);
  const external = process.env.MONGO_URL;
  if (external) {
    const url = mongoUrlWithDatabase(external, dbName);
    return {
      url,
      dbName,
      async cleanup() {
        const client = await MongoClient.connect(url, { serverSelectionTimeoutMS: 5000 });
        try {
          await client.db(dbName).dropDatabase();
        } finally {
          await client.close();
        }
      },
    };
  }
  const standIn = await startMongoStandIn({ port: 0 });
  return { url: `${standIn.url}/${dbName}`, dbName, cleanup: () => standIn.stop() };
}

/** Replaces the database path of a MongoDB URL (which may list several hosts) keeping its options. */
export function mongoUrlWithDatabase(url: string, dbName: string): string {
  const [base, query] = splitOnce(url, '?');
  const schemeEnd = base.indexOf('://') + 3;
  const slash = base.indexOf('/', schemeEnd);
  const hosts = slash === -1 ? base : base.slice(0, slash);
  return `${hosts}/${dbName}${query === undefined ? '' : `?${query}`}`;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i === -1 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

/**
 * A PostgreSQL database for one test file. With `POSTGRES_URL` (the server's admin URL)
 * a fresh database is created on that server; otherwise a PGlite stand-in is started.
 */
export async function createTestPostgres(label?: string): Promise<TestPostgres> {
  const dbName = uniqueDatabaseName(label);
  const admin = process.env.POSTGRES_URL;
  if (!admin) {
    // Loaded lazily: PGlite is heavy and unused when a real server is configured.
    const { startPostgresStandIn } = require('../postgres') as typeof import('../postgres');
    const standIn = await startPostgresStandIn({ port: 0, database: dbName });
    return { url: standIn.url, cleanup: () => standIn.stop() };
  }
  await withAdmin(admin, (client) => client.query(`CREATE DATABASE ${quoteIdent(dbName)}`));
  const url = new URL(admin);
  url.pathname = `/${dbName}`;
  return {
    url: url.toString(),
    async cleanup() {
      await withAdmin(admin, async (client) => {
        await client.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [dbName],
        );
        await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)}`);
      });
    },
  };
}

async function withAdmin<T>(adminUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The URL of a real server for tests that need one (REDIS_URL, AMQP_URL, POSTGRES_URL).
 * In CI (CI=true) a missing URL throws: such tests must fail there, never be skipped.
 * Elsewhere it returns undefined.
 */
export function requireServerUrl(kind: ServerKind): string | undefined {
  const variable = ENV_VARS[kind];
  if (!variable) throw new Error(`unknown server kind '${String(kind)}'`);
  const url = process.env[variable];
  if (url) return url;
  if (process.env.CI === 'true') {
    throw new Error(
      `${variable} must be set in CI: tests needing a real ${kind} server must run there, not be skipped`,
    );
  }
  return undefined;
}

type Describe = (name: string, fn: () => void) => void;
type Todo = (name: string) => void;

/**
 * `describe(name, () => fn(url))` when the server's URL is set. Outside CI without a URL
 * it prints one line saying why and records a `todo` naming the missing variable (jest
 * refuses a file with no test at all; a todo runs nothing and passes nothing off as tested);
 * in CI a missing URL throws, failing the file.
 */
export function describeIfServer(kind: ServerKind, name: string, fn: (url: string) => void): void {
  const describe = (globalThis as { describe?: Describe }).describe;
  if (!describe) throw new Error('describeIfServer must be called inside a jest test file');
  const url = requireServerUrl(kind);
  if (url) {
    describe(name, () => fn(url));
    return;
  }
  const why = `${ENV_VARS[kind]} is not set (it needs a real ${kind} server)`;
  describe(name, () => {
    console.log(`"${name}" not run: ${why}`);
    (globalThis as unknown as { test: { todo: Todo } }).test.todo(
      `run with ${why.replace(' is not set', '')}`,
    );
  });
}
