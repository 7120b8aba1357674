import mongoose, { type Connection } from 'mongoose';

/**
 * The comments service's own connection (never the global `mongoose.connect`): several
 * services share one process in the embedded run and in saga tests.
 */
export async function connectCommentsDb(url: string): Promise<Connection> {
  return mongoose.createConnection(url, { serverSelectionTimeoutMS: 5000 }).asPromise();
}

/** Readiness: the server answers a ping. */
export async function pingCommentsDb(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB is not connected');
  await db.admin().ping();
}
