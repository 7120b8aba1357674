/**
 * The small key-value surface the catalog cache needs, with a Redis and an in-memory adapter.
 * Values are strings (JSON); generations are counters that are never expired, so bumping one
 * makes every entry stamped with its previous value unusable.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * The current generations of `genKeys` and the value at `key`, in one round trip. A missing
   * generation starts at a time-based value (initialGeneration), never reused.
   */
  getWithGenerations(
    genKeys: string[],
    key: string,
  ): Promise<{ gens: string[]; value: string | null }>;
  /** Moves every key to a generation it never had, in one round trip. */
  bump(...keys: string[]): Promise<void>;
  /** Throws when the cache is unreachable (for /health/ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh generation: microseconds since the epoch, far above any counter bumped since. */
export function initialGeneration(now = Date.now()): string {
  return String(now * 1000);
}
