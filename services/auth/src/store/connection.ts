import mongoose, { type Connection } from 'mongoose';

/**
 * The auth service's own connection (never the global `mongoose.connect`): several services
 * share one process in the embedded run and in saga tests.
 */
export async function connectAuthDb(url: string): Promise<Connection> {
  const connection = mongoose.createConnection(url, {
    serverSelectionTimeoutMS: 5000,
    // Refuse query operators hidden in values, as a second line behind the joi schemas.
    sanitizeFilter: true,
  });
  return connection.asPromise();
}

/** Readiness: the server answers a ping. */
export async function pingAuthDb(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB is not connected');
  await db.admin().ping();
}

export function isDuplicateKeyError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

const UNAVAILABLE = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

/** True when the error means "MongoDB cannot be reached" rather than a bad operation. */
export function isMongoUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth += 1) {
    const { name, message, cause } = e as { name?: unknown; message?: unknown; cause?: unknown };
    if (typeof name === 'string' && UNAVAILABLE.has(name)) return true;
    // mongoose's buffering timeout when the connection is down
    if (typeof message === 'string' && /buffering timed out/.test(message)) return true;
    e = cause;
  }
  return false;
}
