import { createHash } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@ecom/common/logging';
import type { Cached, CatalogReadCache } from '../../domain/ports';
import type { Cache } from './cache';

/**
 * Names the shape of the cached answers: entries of an older shape are never read (replicas
 * of two versions may share one Redis during a rolling deploy). v3: one key per answer, the
 * generations it was loaded under written in its value.
 */
export const VIEW_VERSION = 'v3';

/** Ends an entry's stamp (generations are digits): `<generations>|<JSON>`. */
const STAMP_END = '|';

/**
 * Cache-aside for catalog reads, invalidated by generations rather than deletes:
 * - a detail entry lives under `item:<id>:<view version>`, stamped with the generation of that
 *   product it was loaded under,
 * - a list entry under `list:<hash of the normalised query>:<view version>`, stamped with the
 *   list generation.
 * A read takes the generation and the entry in one round trip and uses the entry only when its
 * stamp is the current generation. A write bumps the product's generation and the list
 * generation before it returns. A reader that loaded the old state stores it with the old
 * stamp, which no reader accepts any more, so no reader sees a stale price or stock once the
 * write has returned.
 */
export class CatalogCache implements CatalogReadCache {
  private readonly hits: Counter<'kind'>;
  private readonly misses: Counter<'kind'>;
  private readonly errors: Counter<'op'>;

  constructor(
    private readonly cache: Cache | undefined,
    private readonly options: {
      prefix: string;
      ttlSeconds: number;
      registry: Registry;
      logger: Logger;
    },
  ) {
    const registers = [options.registry];
    this.hits = new Counter({
      name: 'product_cache_hits_total',
      help: 'Catalog cache hits',
      labelNames: ['kind'],
      registers,
    });
    this.misses = new Counter({
      name: 'product_cache_misses_total',
      help: 'Catalog cache misses',
      labelNames: ['kind'],
      registers,
    });
    this.errors = new Counter({
      name: 'product_cache_errors_total',
      help: 'Catalog cache operations that failed',
      labelNames: ['op'],
      registers,
    });
  }

  private key(...parts: string[]): string {
    return this.options.prefix + parts.join(':');
  }

  private get listGenKey(): string {
    return this.key('gen', 'list');
  }

  private itemGenKey(id: string): string {
    return this.key('gen', 'item', id);
  }

  async readList<T>(query: object, load: () => Promise<T>): Promise<Cached<T>> {
    const hash = createHash('sha256').update(canonicalJson(query)).digest('base64url');
    return this.read('list', [this.listGenKey], this.key('list', hash, VIEW_VERSION), load);
  }

  /** Misses (null) are not cached: a product created later must show at once. */
  async readProduct<T>(id: string, load: () => Promise<T | null>): Promise<Cached<T | null>> {
    return this.read('detail', [this.itemGenKey(id)], this.key('item', id, VIEW_VERSION), load);
  }

  private async read<T>(
    kind: string,
    genKeys: string[],
    key: string,
    load: () => Promise<T>,
  ): Promise<Cached<T>> {
    if (!this.cache) {
      this.misses.inc({ kind });
      return { value: await load(), status: 'MISS' };
    }
    let stamp: string | undefined;
    try {
      // The generation is read before the store, so what we load is stamped with it.
      const { gens, value } = await this.cache.getWithGenerations(genKeys, key);
      stamp = gens.join(',');
      const split = value?.indexOf(STAMP_END) ?? -1;
      if (value && split >= 0 && value.slice(0, split) === stamp) {
        this.hits.inc({ kind });
        return { value: JSON.parse(value.slice(split + 1)) as T, status: 'HIT' };
      }
    } catch (err) {
      this.failed('read', err);
      stamp = undefined;
    }
    this.misses.inc({ kind });
    const value = await load();
    if (stamp !== undefined && value !== null && value !== undefined) {
      try {
        await this.cache.set(
          key,
          `${stamp}${STAMP_END}${JSON.stringify(value)}`,
          this.options.ttlSeconds,
        );
      } catch (err) {
        this.failed('write', err);
      }
    }
    return { value, status: 'MISS' };
  }

  async productChanged(productId: string): Promise<void> {
    await this.productsChanged([productId]);
  }

  /** Several products at once (an order's lines), in one round trip to the cache. */
  async productsChanged(productIds: string[]): Promise<void> {
    await this.bump([...productIds.map((id) => this.itemGenKey(id)), this.listGenKey]);
  }

  async catalogChanged(): Promise<void> {
    await this.bump([this.listGenKey]);
  }

  private async bump(keys: string[]): Promise<void> {
    if (!this.cache) return;
    try {
      await this.cache.bump(...keys);
    } catch (err) {
      // The write itself has committed; entries expire after the TTL at the latest.
      this.failed('invalidate', err);
    }
  }

  private failed(op: string, err: unknown): void {
    this.errors.inc({ op });
    this.options.logger.warn('catalog cache operation failed', {
      op,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}

/** JSON with sorted keys and no undefined values, so equal queries hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
