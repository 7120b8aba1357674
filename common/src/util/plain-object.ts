/**
 * A plain object: made by a literal, JSON.parse or Object.create(null), not an array, a class
 * instance or a null. Its own keys are all it holds.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
