import { Types } from 'mongoose';

const OBJECT_ID = /^[0-9a-f]{24}$/i;

/** A 24-hex id as an ObjectId, or undefined (so a malformed id never reaches a query). */
export function toObjectId(id: string): Types.ObjectId | undefined {
  return typeof id === 'string' && OBJECT_ID.test(id) ? new Types.ObjectId(id) : undefined;
}
