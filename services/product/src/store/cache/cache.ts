/**
 * The small key-value surface the catalog cache needs, with a Redis and an in-memory adapter.
 * Values are strings (JSON); generations are counters that are never expired, so bumping one
 * orphans every entry written under the previous value.
 */
export interface Cache {
  readonly kind: 'redis' | 'memory';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** The current generation of `key`; a missing one starts at a time-based value, never reused. */
  generation(key: string): Promise<string>;
  /** Current generations of several keys in one round trip. */
  generations(keys: string[]): Promise<string[]>;
  /**
   * The current generations of `genKeys` and the value at `key`, in one round trip (a missing
   * generation starts as in `generation`).
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
