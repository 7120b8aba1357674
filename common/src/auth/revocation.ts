import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { open, rename } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { UnauthorizedError } from '../errors/app-error';
import type { Logger } from '../logging/logger';
import { RepeatedLog } from '../logging/repeated';

/**
 * Revoked sessions, checked on every authenticated request at the gateway and in every
 * service, so logout, logout-all, a password or role change and an account's deletion take
 * effect at once rather than when the access token expires.
 *
 * An access token names its session (`sid`: the refresh-token family it was issued with).
 * Auth revokes sessions; a revoked session's id is kept for `ttlSeconds` (at least the access
 * tokens' lifetime: after that every token of the session has expired anyway). With Redis the
 * list is shared by every process; without it (the one-process `npm start`) one list per
 * process serves every service in it.
 */
export interface SessionRevocations {
  readonly kind: 'redis' | 'memory';
  /** Refuses every access token of these sessions from now on. */
  revoke(sessionIds: string[], ttlSeconds: number): Promise<void>;
  /** True when the session was revoked. */
  isRevoked(sessionId: string): Promise<boolean>;
  /**
   * The time (seconds) from which the list is complete: an access token issued before it is
   * older than the list and refused (`sessionVerdict`). Null while unknown.
   */
  completeSince(): Promise<number | null>;
  /**
   * Auth's call, at its start and every few seconds: when the list has no time, or one from
   * another run of Redis (a restart, a failover: it may have lost revocations), the time
   * becomes `nowSeconds`, so every access token issued before is refused from then on and its
   * client refreshes (refresh tokens are checked against auth's own store). True when set.
   */
  markComplete(nowSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

export class MemorySessionRevocations implements SessionRevocations {
  readonly kind = 'memory';
  private readonly revoked = new Map<string, number>();
  private file: string | undefined;
  /** Saves run one after another, each writing the whole list as it then is. */
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Keeps the list in `file` from now on (written before revoke() resolves) and takes in the
   * sessions it already holds: a restart of the one-process platform must not bring a logged-out
   * or deleted user's tokens back to life for the rest of their lifetime.
   */
  keepIn(file: string): void {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      // A list that cannot be read is not taken as empty: that would revive what it revoked.
      let saved: unknown;
      try {
        saved = JSON.parse(text);
      } catch {
        saved = undefined;
      }
      if (!saved || typeof saved !== 'object' || Array.isArray(saved)) {
        throw new Error(
          `${file} is not a list of revoked sessions: restore it, or delete it to start with none (tokens revoked in the last JWT_ACCESS_TTL would work again)`,
        );
      }
      for (const [id, until] of Object.entries(saved)) {
        if (typeof until === 'number' && until > (this.revoked.get(id) ?? 0)) {
          this.revoked.set(id, until);
        }
      }
    }
    this.file = file;
    this.sweep();
  }

  async revoke(sessionIds: string[], ttlSeconds: number): Promise<void> {
    const until = this.now() + ttlSeconds * 1000;
    for (const id of sessionIds) this.revoked.set(id, until);
    this.sweep();
    if (this.file) await this.save(this.file);
  }

  private save(file: string): Promise<void> {
    const write = async () => {
      // Whole and synced, then renamed over the old one, and the rename synced: a crash or a
      // power loss mid-write leaves the last complete list, never an empty or cut one.
      const next = `${file}.${process.pid}.tmp`;
      const handle = await open(next, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(Object.fromEntries(this.revoked)));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(next, file);
      await syncDirectoryOf(file);
    };
    const saved = this.saving.then(write);
    this.saving = saved.catch(() => {});
    return saved;
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    const until = this.revoked.get(sessionId);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.revoked.delete(sessionId);
    return false;
  }

  /** Nothing to mark: the list is kept in the data directory, and restarts with it. */
  async markComplete(): Promise<boolean> {
    return false;
  }

  async completeSince(): Promise<number | null> {
    return null;
  }

  async close(): Promise<void> {}

  private sweep(): void {
    const now = this.now();
    for (const [id, until] of this.revoked) if (until <= now) this.revoked.delete(id);
  }
}

export class RedisSessionRevocations implements SessionRevocations {
  readonly kind = 'redis';

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ownsClient = true,
  ) {}

  private key(sessionId: string): string {
    return `${this.prefix}:auth:revoked-session:${sessionId}`;
  }

  async revoke(sessionIds: string[], ttlSeconds: number): Promise<void> {
    if (sessionIds.length === 0) return;
    const tx = this.redis.multi();
    for (const id of sessionIds)
      tx.set(this.key(id), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('session revocation was not stored');
  }

  /** `<Redis run id>:<seconds>`: tokens issued before the time are refused. */
  private sinceKey(): string {
    return `${this.prefix}:auth:revoked-sessions:complete-since`;
  }

  async isRevoked(sessionId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(sessionId))) === 1;
  }

  async completeSince(): Promise<number | null> {
    const value = await this.redis.get(this.sinceKey());
    if (value === null) return null;
    const seconds = Number(value.slice(value.lastIndexOf(':') + 1));
    return Number.isFinite(seconds) ? seconds : null;
  }

  async markComplete(nowSeconds: number): Promise<boolean> {
    const runId = /run_id:(\w+)/.exec(await this.redis.info('server'))?.[1] ?? 'unknown';
    const value = await this.redis.get(this.sinceKey());
    if (value?.startsWith(`${runId}:`)) return false;
    await this.redis.set(this.sinceKey(), `${runId}:${Math.floor(nowSeconds)}`);
    return true;
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

let processWide: MemorySessionRevocations | undefined;

/**
 * The one in-process list, shared by every service of a one-process platform (which keeps it in
 * its data directory: `keepIn`).
 */
export function processSessionRevocations(): MemorySessionRevocations {
  return (processWide ??= new MemorySessionRevocations());
}

/**
 * The platform stopped: its list goes with it, as a process's memory would. The next start in
 * this process reads the kept file again, as a restart does.
 */
export function forgetProcessSessionRevocations(): void {
  processWide = undefined;
}

export interface RevocationConfig {
  REDIS_URL?: string;
  /** The platform's namespace on a shared Redis (the bus prefix). */
  EVENT_BUS_PREFIX?: string;
}

/** Redis when REDIS_URL is set (every process shares it), else the process-wide list. */
export function sessionRevocationsFromConfig(
  config: RevocationConfig,
  logger: Logger,
): SessionRevocations {
  if (!config.REDIS_URL) return processSessionRevocations();
  const redis = new Redis(config.REDIS_URL, {
    // Fail fast while Redis is away: a check must not hold a request for reconnects.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    enableAutoPipelining: true,
  });
  redis.on('error', (err: Error) =>
    logger.warn('revocation list: redis error', { err: err.message }),
  );
  return new RedisSessionRevocations(redis, config.EVENT_BUS_PREFIX ?? 'ecom');
}

/** Where an unreadable list is reported (a winston logger fits). */
export interface RevocationLogger {
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

// Once per 10 s, not once per request: an outage would otherwise flood the log.
const unreadable = new RepeatedLog(10_000);

/**
 * The verdict for a verified token's session (`issuedAt`: its `iat`): 'revoked' when the
 * session ended, 'stale' when the token is older than the list (its client refreshes), else
 * undefined. While the list cannot be read (Redis away) the token is accepted and the failure
 * logged: tokens live minutes, and refusing every request during a Redis outage would take the
 * shop down with it (docs/adr/0015-token-revocation.md).
 */
export async function sessionVerdict(
  revocations: SessionRevocations | undefined,
  sessionId: string | undefined,
  logger?: RevocationLogger,
  issuedAt?: number,
): Promise<'revoked' | 'stale' | undefined> {
  if (!revocations || !sessionId) return undefined;
  try {
    // Both in one round trip (auto-pipelining).
    const [revoked, since] = await Promise.all([
      revocations.isRevoked(sessionId),
      issuedAt === undefined ? null : revocations.completeSince(),
    ]);
    if (revoked) return 'revoked';
    // No time yet (auth has not marked the list since it was lost): accepted, as while Redis is
    // away; auth marks it within seconds.
    return since !== null && issuedAt !== undefined && issuedAt < since ? 'stale' : undefined;
  } catch (err) {
    const repeated = unreadable.take();
    if (repeated)
      logger?.warn('revocation list unreadable; token accepted', {
        err: (err as Error).message,
        ...repeated,
      });
    return undefined;
  }
}

/** The 401 for a refused session: ended, or a token older than the list (refresh it). */
export function sessionRefusal(verdict: 'revoked' | 'stale'): UnauthorizedError {
  return verdict === 'revoked'
    ? new UnauthorizedError('Session has ended', { reason: 'revoked' })
    : new UnauthorizedError(
        'The access token is older than the revocation list (Redis restarted): refresh it',
        { reason: 'stale' },
      );
}

/** Whether the session was revoked (its token's age aside): auth's refresh path. */
export async function sessionRevoked(
  revocations: SessionRevocations | undefined,
  sessionId: string | undefined,
  logger?: RevocationLogger,
): Promise<boolean> {
  return (await sessionVerdict(revocations, sessionId, logger)) === 'revoked';
}

/** Makes a rename in `file`'s directory durable, where the platform allows fsync on one. */
async function syncDirectoryOf(file: string): Promise<void> {
  const dir = await open(dirname(file), 'r').catch(() => undefined);
  if (!dir) return;
  try {
    await dir.sync();
  } catch {
    // Not supported here (e.g. Windows): the rename is still atomic.
  } finally {
    await dir.close();
  }
}
