import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Redis } from 'ioredis';
import type { Logger } from '@ecom/common/logging';

export interface CachedResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
  storedAt: number;
  expiresAt: number;
  generation: number;
}

export interface ResponseCacheOptions {
  ttlMs: number;
  maxEntries: number;
  maxBodyBytes: number;
  /** With Redis, writes seen by any gateway instance invalidate every instance's cache. */
  redis?: Redis;
  channel: string;
  logger: Logger;
  now?: () => number;
}

// Hop-by-hop and per-request headers are never replayed from the cache.
const NOT_REPLAYED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'date',
  'x-request-id',
  'x-correlation-id',
  'set-cookie',
  'x-cache',
]);

/**
 * Short-TTL cache for public product reads, local to each gateway instance.
 *
 * Invalidation: any write to `/api/products` through a gateway bumps the generation at
 * the start and at the end of that write (on this instance at once, on the others through
 * Redis pub/sub), and a read stores its answer only if the generation did not move while
 * it was in flight, so no entry can hold data from before a write that finished. Changes
 * that do not pass through the gateway (stock moved by the order saga) are seen at most
 * `ttlMs` late: that is the staleness bound.
 */
export class ResponseCache {
  private readonly entries = new Map<string, CachedResponse>();
  private generationValue = 0;
  private subscriber?: Redis;
  private readonly now: () => number;
  private readonly instanceId = Math.random().toString(36).slice(2);

  constructor(private readonly options: ResponseCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Subscribes to invalidations from other instances (no-op without Redis). */
  async start(): Promise<void> {
    if (!this.options.redis) return;
    // Queue the SUBSCRIBE until connected (the main client fails fast instead).
    // No command timeout either: SUBSCRIBE waits for the connection, however long that takes.
    this.subscriber = this.options.redis.duplicate({
      enableOfflineQueue: true,
      commandTimeout: undefined,
    });
    this.subscriber.on('error', (err: Error) =>
      this.options.logger.warn('cache invalidation channel error', { err: err.message }),
    );
    this.subscriber.on('message', (_channel: string, message: string) => {
      if (message !== this.instanceId) this.bumpLocal();
    });
    await this.subscriber.subscribe(this.options.channel);
  }

  async close(): Promise<void> {
    if (this.subscriber) {
      this.subscriber.disconnect();
      this.subscriber = undefined;
    }
  }

  get generation(): number {
    return this.generationValue;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedResponse | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now() || entry.generation !== this.generationValue) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /**
   * Collects the body of a streamed upstream answer and stores it when it is a complete,
   * cacheable 200 and no write happened since `generationAtStart`.
   */
  capture(key: string, proxyRes: IncomingMessage, generationAtStart: number): void {
    if (proxyRes.statusCode !== 200) return;
    const cacheControl = String(proxyRes.headers['cache-control'] ?? '');
    if (/no-store|private/i.test(cacheControl) || proxyRes.headers['set-cookie']) return;
    // Answers that vary per client (encoding, credentials) are not shared.
    const vary = String(proxyRes.headers.vary ?? '');
    if (proxyRes.headers['content-encoding'] || /\*|authorization|cookie/i.test(vary)) return;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    proxyRes.on('data', (chunk: Buffer) => {
      if (tooBig) return;
      size += chunk.length;
      if (size > this.options.maxBodyBytes) {
        tooBig = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    proxyRes.on('end', () => {
      if (tooBig || !proxyRes.complete || generationAtStart !== this.generationValue) return;
      const headers: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(proxyRes.headers)) {
        if (value !== undefined && !NOT_REPLAYED.has(name)) headers[name] = value;
      }
      this.store(key, {
        status: 200,
        headers,
        body: Buffer.concat(chunks, size),
        storedAt: this.now(),
        expiresAt: this.now() + this.options.ttlMs,
        generation: generationAtStart,
      });
    });
  }

  /** A write to products went through this gateway: drop everything, tell the others. */
  invalidate(): void {
    this.bumpLocal();
    if (this.options.redis) {
      this.options.redis.publish(this.options.channel, this.instanceId).catch((err: Error) => {
        this.options.logger.warn('cache invalidation publish failed', { err: err.message });
      });
    }
  }

  private bumpLocal(): void {
    this.generationValue += 1;
    this.entries.clear();
  }

  private store(key: string, entry: CachedResponse): void {
    if (this.entries.size >= this.options.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
  }
}
