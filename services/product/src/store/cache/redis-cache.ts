import Redis from 'ioredis';
import { initialGeneration, type Cache } from './cache';

/**
 * Redis adapter. Commands fail fast while Redis is away (no offline queue, one retry), so a
 * cache outage costs a miss, never a hung request.
 */
export class RedisCache implements Cache {
  readonly kind = 'redis';

  private constructor(private readonly client: Redis) {}

  static async connect(url: string): Promise<RedisCache> {
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 5000,
    });
    // Errors surface through the failing commands; without a listener ioredis would log them.
    client.on('error', () => undefined);
    await client.connect();
    return new RedisCache(client);
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(key, value, 'EX', ttlSeconds);
  }

  async generation(key: string): Promise<string> {
    const [gen] = await this.generations([key]);
    return gen;
  }

  async generations(keys: string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    return this.started(keys, await this.client.mget(...keys));
  }

  async getWithGenerations(
    genKeys: string[],
    key: string,
  ): Promise<{ gens: string[]; value: string | null }> {
    const values = await this.client.mget(...genKeys, key);
    return { gens: await this.started(genKeys, values), value: values[genKeys.length] ?? null };
  }

  /** The generations `values` read for `keys`, a missing one started (see `generation`). */
  private async started(keys: string[], values: Array<string | null>): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < keys.length; i++) {
      const value = values[i];
      if (value !== null && value !== undefined) {
        out.push(value);
        continue;
      }
      // First use (or lost): start from a time-based value; NX keeps a concurrent starter's.
      await this.client.set(keys[i], initialGeneration(), 'NX');
      out.push((await this.client.get(keys[i])) ?? initialGeneration());
    }
    return out;
  }

  async bump(...keys: string[]): Promise<void> {
    // One round trip for every key: a missing one starts from a time-based value (NX keeps an
    // existing one), then each moves on by one, so none returns to a value it had.
    const pipeline = this.client.pipeline();
    for (const key of keys) pipeline.set(key, initialGeneration(), 'NX').incr(key);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
