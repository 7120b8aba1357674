import type { Document } from 'bson';
import type { CursorStore } from '../cursors';
import type { Engine } from '../engine';

/** What a handler gets besides its command: the store, the cursors and facts about the connection. */
export interface CommandContext {
  engine: Engine;
  cursors: CursorStore;
  connectionId: number;
  startedAt: number;
  /** Number of open client connections (serverStatus). */
  connections(): number;
}

export type Handler = (cmd: Document, db: string, ctx: CommandContext) => Document;
