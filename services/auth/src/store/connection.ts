import type { Connection, Schema } from 'mongoose';

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
