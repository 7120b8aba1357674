import Redis from 'ioredis';
import { initialGeneration, type Cache } from './cache';

/**
 * Moves generations on, in one command for all of them: a missing one starts from a
 * time-based value (ARGV[1]; NX keeps an existing one), then each moves on by one, so none
 * returns to a value it had. A script rather than a pipeline of SET NX and INCR per key: one
 * command to build, send and parse instead of two per key.
 */
const BUMP_GENERATIONS = `
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'NX')
  redis.call('INCR', key)
end
return #KEYS
`;

type BumpingRedis = Redis & {
  bumpGenerations(numKeys: number, ...keysThenStart: Array<string | number>): Promise<number>;
};

/**
 * Redis adapter. Commands fail fast while Redis is away (no offline queue, one retry), so a
 * cache outage costs a miss, never a hung request.
 */
export class RedisCache implements Cache {
  readonly kind = 'redis';

  private constructor(private readonly client: BumpingRedis) {}

  static async connect(url: string): Promise<RedisCache> {
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 5000,
    });
    // Errors surface through the failing commands; without a listener ioredis would log them.
    client.on('error', () => undefined);
    // Sent as EVALSHA, and as EVAL once when Redis does not know the script yet.
    client.defineCommand('bumpGenerations', { lua: BUMP_GENERATIONS });
    await client.connect();
    return new RedisCache(client as BumpingRedis);
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
    if (keys.length === 0) return;
    await this.client.bumpGenerations(keys.length, ...keys, initialGeneration());
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
