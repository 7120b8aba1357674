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
  bump(key: string): Promise<void>;
  /** Throws when the cache is unreachable (for /health/ready). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A fresh generation: microseconds since the epoch, far above any counter bumped since. */
export function initialGeneration(now = Date.now()): string {
  return String(now * 1000);
}

interface Entry {
  value: string;
  expiresAt: number;
}

/** Process-local cache: bounded (least recently used entries go first) and expiring. */
export class MemoryCache implements Cache {
  readonly kind = 'memory';
  private readonly entries = new Map<string, Entry>();
  private readonly gens = new Map<string, number>();

  constructor(
    private readonly maxEntries = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string): Promise<string | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    // Re-insert so Map order tracks recency.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  async generation(key: string): Promise<string> {
    let gen = this.gens.get(key);
    if (gen === undefined) {
      gen = Number(initialGeneration(this.now()));
      this.gens.set(key, gen);
    }
    return String(gen);
  }

  async generations(keys: string[]): Promise<string[]> {
    return Promise.all(keys.map((k) => this.generation(k)));
  }

  async bump(key: string): Promise<void> {
    const gen = this.gens.get(key);
    this.gens.set(key, gen === undefined ? Number(initialGeneration(this.now())) : gen + 1);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
    this.gens.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
