/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace; numbers must be safe
 * integers; bigint as a decimal string; Date as its ISO-8601 string; anything else (undefined,
 * functions, class instances) is refused. One text per value, so it can be hashed: request
 * fingerprints (Idempotency-Key) and anchored records use it.
 */
export type CanonicalValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | CanonicalValue[]
  | { [key: string]: CanonicalValue };

export class CanonicalizationError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path}`);
    this.name = 'CanonicalizationError';
  }
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalizationError(
          `${value} is not a safe integer (use integer minor units or a decimal string)`,
          path,
        );
      }
      // -0 and 0 must hash the same.
      return String(value === 0 ? 0 : value);
    case 'object': {
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new CanonicalizationError('invalid date', path);
        return JSON.stringify(value.toISOString());
      }
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalizationError('only plain objects can be serialised', path);
      }
      const keys = Object.keys(value).sort();
      const parts = keys.map(
        (k) =>
          `${JSON.stringify(k)}:${write((value as Record<string, unknown>)[k], `${path}.${k}`)}`,
      );
      return `{${parts.join(',')}}`;
    }
    default:
      throw new CanonicalizationError(`${typeof value} cannot be serialised`, path);
  }
}

/** The canonical JSON text of `value` (see SERIALIZATION_VERSION for the rules). */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}
