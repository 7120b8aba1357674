import type { Document } from 'bson';
import type { CursorStore } from '../cursors';
import type { Engine } from '../engine';
import type { Sessions } from '../sessions';

/** What a handler gets besides its command: the store, the cursors and facts about the connection. */
export interface CommandContext {
  engine: Engine;
  cursors: CursorStore;
  /** Server sessions: transactions and retryable writes. */
  sessions: Sessions;
  connectionId: number;
  /**
   * Set when the stand-in answers the handshake as the primary of a one-member replica set:
   * the set's name and this member's `host:port`.
   */
  replicaSet?: { name: string; me: string };
  startedAt: number;
  /** Number of open client connections (serverStatus). */
  connections(): number;
}

export type Handler = (cmd: Document, db: string, ctx: CommandContext) => Document;
