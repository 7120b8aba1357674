import type { Connection } from 'mongoose';
import type { Models } from './models';

/** Statuses as earlier versions stored them (lower case), and what they are now. */
const STATUS_RENAMES = [
  ['visible', 'VISIBLE'],
  ['hidden', 'HIDDEN'],
  ['deleted', 'DELETED'],
] as const;

/**
 * Brings comments_db to this version before serving: every index (the unique ones carry
 * business rules), then statuses stored in lower case by earlier versions renamed to upper
 * case. Idempotent, so every start (and several instances at once) may run it.
 */
export async function migrateCommentsDb(connection: Connection, models: Models): Promise<void> {
  await Promise.all(Object.values(connection.models).map((m) => m.createIndexes()));
  for (const [from, to] of STATUS_RENAMES) {
    // Raw collection: the model's enum no longer admits the old values.
    await models.Comment.collection.updateMany({ status: from }, { $set: { status: to } });
  }
}
