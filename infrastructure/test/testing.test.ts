import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import { startMongoStandIn } from '@ecom/infrastructure/mongo';
import {
  createTestMongo,
  createTestPostgres,
  describeIfServer,
  mongoUrlWithDatabase,
  requireServerUrl,
  uniqueDatabaseName,
} from '@ecom/infrastructure/testing';

const ADMIN_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs fn with some environment variables replaced, restoring them afterwards. */
async function withEnv<T>(
  vars: Record<string, string | undefined>,
  fn: () => Promise<T> | T,
): Promise<T> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('uniqueDatabaseName / mongoUrlWithDatabase', () => {
  it('gives distinct, valid names within 63 characters', () => {
    const names = new Set(
      Array.from({ length: 50 }, () =>
        uniqueDatabaseName('Product Service: a very long label that keeps going and going'),
      ),
    );
    expect(names.size).toBe(50);
    for (const n of names) expect(n).toMatch(/^test_[a-z0-9_]{1,58}$/);
  });

  it('replaces the database of single- and multi-host URLs and keeps options', () => {
    expect(mongoUrlWithDatabase('mongodb://h:1', 'x')).toBe('mongodb://h:1/x');
    expect(
      mongoUrlWithDatabase('mongodb://u:p@h1:1,h2:2/old?replicaSet=rs&authSource=admin', 'x'),
    ).toBe('mongodb://u:p@h1:1,h2:2/x?replicaSet=rs&authSource=admin');
  });
});

describe('createTestMongo (stand-in when MONGO_URL is unset)', () => {
  it('gives each call its own database, usable through the driver, gone after cleanup', async () => {
    await withEnv({ MONGO_URL: undefined }, async () => {
      const a = await createTestMongo('alpha');
      const b = await createTestMongo('alpha');
      expect(a.dbName).not.toBe(b.dbName);
      expect(a.url.endsWith(`/${a.dbName}`)).toBe(true);
      const client = await MongoClient.connect(a.url);
      await client.db().collection('c').insertOne({ x: 1 });
      expect(client.db().databaseName).toBe(a.dbName);
      expect(await client.db().collection('c').countDocuments()).toBe(1);
      await client.close();
      await a.cleanup();
      await expect(MongoClient.connect(a.url, { serverSelectionTimeoutMS: 300 })).rejects.toThrow();
      await b.cleanup();
    });
  });
});

describe('createTestMongo against a MongoDB URL', () => {
  it('creates a database on the given server and drops it on cleanup', async () => {
    // A stand-in plays the "real" server here, reached only through MONGO_URL.
    const server = await startMongoStandIn();
    try {
      await withEnv({ MONGO_URL: `${server.url}/ignored?appName=x` }, async () => {
        const db = await createTestMongo('external');
        expect(db.url).toBe(`${server.url}/${db.dbName}?appName=x`);
        const client = await MongoClient.connect(db.url);
        await client.db().collection('c').insertOne({ y: 2 });
        await client.close();
        expect(server.engine.dbs.has(db.dbName)).toBe(true);
        await db.cleanup();
        expect(server.engine.dbs.has(db.dbName)).toBe(false);
      });
    } finally {
      await server.stop();
    }
  });
});

describe('createTestPostgres with POSTGRES_URL (real server)', () => {
  it('creates a fresh database and drops it, even with a connection still open', async () => {
    await withEnv({ POSTGRES_URL: ADMIN_URL }, async () => {
      const pg = await createTestPostgres('orders');
      const name = new URL(pg.url).pathname.slice(1);
      expect(name).toMatch(/^test_orders_/);
      expect(await databaseExists(name)).toBe(true);
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      client.on('error', () => undefined); // terminated by cleanup
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0].db).toBe(name);
      await pg.cleanup();
      expect(await databaseExists(name)).toBe(false);
      await client.end().catch(() => undefined);
    });
  });
});

describe('createTestPostgres without POSTGRES_URL (PGlite stand-in)', () => {
  it('serves a working database over the wire and stops on cleanup', async () => {
    await withEnv({ POSTGRES_URL: undefined }, async () => {
      const pg = await createTestPostgres('pglite');
      const client = new Client({ connectionString: pg.url });
      await client.connect();
      await client.query('CREATE TABLE t (id int primary key)');
      await client.query('INSERT INTO t VALUES (1), (2)');
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
      expect(rows[0].n).toBe(2);
      await client.end();
      await pg.cleanup();
      const again = new Client({ connectionString: pg.url, connectionTimeoutMillis: 500 });
      await expect(again.connect()).rejects.toThrow();
    });
  }, 120_000);
});

describe('requireServerUrl', () => {
  it('returns the URL when set', async () => {
    await withEnv({ REDIS_URL: 'redis://example:6379', CI: 'true' }, () => {
      expect(requireServerUrl('redis')).toBe('redis://example:6379');
    });
  });

  it('throws in CI when the URL is missing', async () => {
    await withEnv({ AMQP_URL: undefined, CI: 'true' }, () => {
      expect(() => requireServerUrl('amqp')).toThrow(/AMQP_URL must be set in CI/);
    });
  });

  it('returns undefined outside CI when the URL is missing', async () => {
    await withEnv({ AMQP_URL: undefined, CI: undefined }, () => {
      expect(requireServerUrl('amqp')).toBeUndefined();
    });
  });
});

// Registered at collection time, so the environment is arranged before describeIfServer runs.
const savedAmqp = process.env.AMQP_URL;
const savedCi = process.env.CI;
delete process.env.AMQP_URL;
delete process.env.CI;
const logged: string[] = [];
const originalLog = console.log;
console.log = (...args: unknown[]) => void logged.push(args.join(' '));
// The todo it records is caught here, so this file reports no todo of its own.
const todos: string[] = [];
const jestTest = (globalThis as unknown as { test: { todo: (name: string) => void } }).test;
const originalTodo = jestTest.todo;
jestTest.todo = (name: string) => void todos.push(name);
let ranWithoutUrl = false;
describeIfServer('amqp', 'amqp block without a URL', () => {
  ranWithoutUrl = true;
});
jestTest.todo = originalTodo;
console.log = originalLog;
let receivedUrl: string | undefined;
process.env.AMQP_URL = 'amqp://x@127.0.0.1:1';
describeIfServer('amqp', 'amqp block with a URL', (url) => {
  receivedUrl = url;
  it('receives the URL', () => {
    expect(url).toBe('amqp://x@127.0.0.1:1');
  });
});
process.env.CI = 'true';
delete process.env.AMQP_URL;
let ciError: unknown;
try {
  describeIfServer('amqp', 'never registered', () => undefined);
} catch (err) {
  ciError = err;
}
if (savedAmqp === undefined) delete process.env.AMQP_URL;
else process.env.AMQP_URL = savedAmqp;
if (savedCi === undefined) delete process.env.CI;
else process.env.CI = savedCi;

describe('describeIfServer', () => {
  it('without a URL outside CI: prints why, runs nothing and records a todo naming the variable', () => {
    expect(ranWithoutUrl).toBe(false);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/amqp block without a URL.*AMQP_URL is not set/);
    expect(todos).toEqual(['run with AMQP_URL (it needs a real amqp server)']);
  });

  it('with a URL: passes it to the block', () => {
    expect(receivedUrl).toBe('amqp://x@127.0.0.1:1');
  });

  it('in CI without a URL: throws', () => {
    expect(String(ciError)).toMatch(/AMQP_URL must be set in CI/);
  });
});
