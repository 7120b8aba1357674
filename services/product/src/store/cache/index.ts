import { MemoryCache } from './memory-cache';
import { RedisCache } from './redis-cache';
import type { Cache } from './cache';

/** The cache the configuration chooses; undefined when caching is off (every read a MISS). */
export async function openCache(config: {
  CACHE_DRIVER: 'redis' | 'memory' | 'off';
  REDIS_URL?: string;
  CACHE_MEMORY_MAX_ENTRIES: number;
}): Promise<Cache | undefined> {
  if (config.CACHE_DRIVER === 'off') return undefined;
  if (config.CACHE_DRIVER === 'redis' && config.REDIS_URL)
    return RedisCache.connect(config.REDIS_URL);
  return new MemoryCache(config.CACHE_MEMORY_MAX_ENTRIES);
}

export { CatalogCache } from './catalog-cache';
export type { Cache } from './cache';
