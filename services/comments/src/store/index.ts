import type { Connection } from 'mongoose';
import { createCommentStore } from './comment-store';
import { createDirectoryStore } from './directory-store';
import { migrateCommentsDb } from './migrations';
import { createModels } from './models';
import { createFlagStore, createVoteStore } from './reaction-store';

export type { CommentStore } from './comment-store';
export type { DirectoryStore } from './directory-store';
export type { ReactionStore } from './reaction-store';

/** Every store of the service, built on its own connection. */
export function createStores(connection: Connection) {
  const models = createModels(connection);
  return {
    comments: createCommentStore(models),
    flags: createFlagStore(models),
    votes: createVoteStore(models),
    directory: createDirectoryStore(models),
    /** Indexes and data migrations, before serving. */
    migrate: () => migrateCommentsDb(connection, models),
  };
}

export type Stores = ReturnType<typeof createStores>;
