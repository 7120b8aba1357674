import mongoose, { type Connection, type ConnectOptions } from 'mongoose';
import { applyMongoDriverFix } from './driver-fix';

export interface ServiceMongoOptions {
  /** How long an operation waits for a reachable server before failing. Default 5 s. */
  serverSelectionTimeoutMS?: number;
  /** Refuse query operators hidden in values (mongoose `sanitizeFilter`). */
  sanitizeFilter?: boolean;
  autoIndex?: boolean;
}

/**
 * A service's own MongoDB connection (never the global `mongoose.connect`: several services
 * share one process in the embedded run and in saga tests), with the driver fix that lets the
 * client recover after an outage. A connection that cannot reach MongoDB is closed before the
 * error is thrown, so a failed start leaves nothing open.
 */
export async function connectServiceMongo(
  url: string,
  options: ServiceMongoOptions = {},
): Promise<Connection> {
  applyMongoDriverFix();
  const connectOptions: ConnectOptions = {
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 5000,
    ...(options.sanitizeFilter !== undefined ? { sanitizeFilter: options.sanitizeFilter } : {}),
    ...(options.autoIndex !== undefined ? { autoIndex: options.autoIndex } : {}),
  };
  const connection = mongoose.createConnection(url, connectOptions);
  try {
    await connection.asPromise();
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
  return connection;
}

/**
 * Resolves when MongoDB answers a ping within `timeoutMs`; a disconnected driver would queue the
 * ping, so a connection that is not up fails at once. Readiness and the consumers' "is my store
 * up" both ask this.
 */
export async function pingMongo(connection: Connection, timeoutMs = 2000): Promise<void> {
  const db = connection.db;
  if (connection.readyState !== 1 || !db) throw new Error('MongoDB is not connected');
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.command({ ping: 1 }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('MongoDB ping timed out')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
