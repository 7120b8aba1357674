import { initialGeneration, type Cache } from './cache';

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

  async getWithGenerations(
    genKeys: string[],
    key: string,
  ): Promise<{ gens: string[]; value: string | null }> {
    return { gens: await this.generations(genKeys), value: await this.get(key) };
  }

  async bump(...keys: string[]): Promise<void> {
    for (const key of keys) {
      const gen = this.gens.get(key);
      this.gens.set(key, gen === undefined ? Number(initialGeneration(this.now())) : gen + 1);
    }
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
