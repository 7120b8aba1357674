import mongoose, { type Connection, type Schema } from 'mongoose';

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

/** A collection's model on the service's connection, and init(), which builds its indexes. */
export function collectionModel<T>(connection: Connection, name: string, schema: Schema<T>) {
  const model = connection.model<T>(name, schema);
  return {
    model,
    async init(): Promise<void> {
      await model.createIndexes();
    },
  };
}

/** Readiness: the server answers a ping. */
export async function pingAuthDb(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db) throw new Error('MongoDB is not connected');
  await db.admin().ping();
}
