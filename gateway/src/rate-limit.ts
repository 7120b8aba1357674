import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { GatewayConfig } from './config';
import type { Bucket } from './routes';

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (≥ 1). */
  resetSeconds: number;
}

export interface RateLimiter {
  consume(bucket: Bucket, key: string): Promise<RateDecision>;
  readonly backend: 'redis' | 'memory';
}

interface Budget {
  points: number;
  durationSeconds: number;
}

function budgets(config: GatewayConfig): Record<Bucket, Budget> {
  return {
    default: {
      points: config.RATE_LIMIT_POINTS,
      durationSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    },
    auth: {
      points: config.RATE_LIMIT_AUTH_POINTS,
      durationSeconds: config.RATE_LIMIT_AUTH_WINDOW_SECONDS,
    },
    payment: {
      points: config.RATE_LIMIT_PAYMENT_POINTS,
      durationSeconds: config.RATE_LIMIT_PAYMENT_WINDOW_SECONDS,
    },
    webhook: {
      points: config.RATE_LIMIT_WEBHOOK_POINTS,
      durationSeconds: config.RATE_LIMIT_WEBHOOK_WINDOW_SECONDS,
    },
  };
}

function decision(res: RateLimiterRes, points: number, allowed: boolean): RateDecision {
  return {
    allowed,
    limit: points,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
}

/**
 * One fixed-window limiter per bucket. With Redis, every gateway instance shares the
 * counters (one EVALSHA round trip per decision); if Redis is unreachable, an in-memory
 * insurance limiter keeps limiting per instance instead of failing open or closed.
 */
export function createRateLimiter(config: GatewayConfig, redis: Redis | undefined): RateLimiter {
  const limiters = {} as Record<Bucket, { limiter: RateLimiterAbstract; points: number }>;
  for (const [bucket, budget] of Object.entries(budgets(config)) as [Bucket, Budget][]) {
    const memory = new RateLimiterMemory({
      points: budget.points,
      duration: budget.durationSeconds,
      keyPrefix: `${config.GATEWAY_KEY_PREFIX}:rl:${bucket}`,
    });
    const limiter = redis
      ? new RateLimiterRedis({
          storeClient: redis,
          points: budget.points,
          duration: budget.durationSeconds,
          keyPrefix: `${config.GATEWAY_KEY_PREFIX}:rl:${bucket}`,
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory,
        })
      : memory;
    limiters[bucket] = { limiter, points: budget.points };
  }

  return {
    backend: redis ? 'redis' : 'memory',
    async consume(bucket, key) {
      const { limiter, points } = limiters[bucket];
      try {
        return decision(await limiter.consume(key), points, true);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) return decision(rejection, points, false);
        throw rejection;
      }
    },
  };
}
