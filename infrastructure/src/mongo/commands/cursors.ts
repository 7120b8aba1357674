import type { Document } from 'bson';
import type { CommandContext } from './context';

export function getMore(cmd: Document, db: string, ctx: CommandContext): Document {
  const batchSize = cmd.batchSize === undefined ? undefined : Number(cmd.batchSize);
  return ctx.cursors.getMore(cmd.getMore, String(cmd.collection), db, batchSize);
}

export function killCursors(cmd: Document, _db: string, ctx: CommandContext): Document {
  return ctx.cursors.kill(Array.isArray(cmd.cursors) ? cmd.cursors : []);
}
