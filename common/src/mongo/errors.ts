/** MongoDB's duplicate key error (E11000): a unique index refused the write. */
export function isDuplicateKey(err: unknown, index?: string): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; keyPattern?: Record<string, unknown>; message?: unknown };
  if (e.code !== 11000) return false;
  if (index === undefined) return true;
  return (
    (e.keyPattern !== undefined && Object.hasOwn(e.keyPattern, index)) ||
    (typeof e.message === 'string' && e.message.includes(index))
  );
}
