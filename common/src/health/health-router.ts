import { Router, type RequestHandler } from 'express';

/** A readiness check: resolves when the dependency answers, throws otherwise. */
export type HealthCheck = () => Promise<unknown>;

export interface HealthOptions {
  service: string;
  version?: string;
  checks?: Record<string, HealthCheck>;
  /**
   * Dependencies the service works without, slower or with less (a bus its outbox waits for,
   * a cache): down, the answer says `degraded` but stays 200, so an orchestrator keeps routing
   * to it. Taking every replica out for a dependency they all share would turn a delay into an
   * outage.
   */
  degradedBy?: Record<string, HealthCheck>;
  /** Each check must answer within this time or counts as down. */
  timeoutMs?: number;
}

export interface CheckResult {
  status: 'up' | 'down';
  latencyMs: number;
  error?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runChecks(
  checks: Record<string, HealthCheck>,
  timeoutMs: number,
): Promise<{ ok: boolean; checks: Record<string, CheckResult> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const started = performance.now();
      try {
        await withTimeout(Promise.resolve().then(check), timeoutMs);
        return [name, { status: 'up', latencyMs: Math.round(performance.now() - started) }];
      } catch (err) {
        return [
          name,
          {
            status: 'down',
            latencyMs: Math.round(performance.now() - started),
            error: err instanceof Error ? err.message : String(err),
          },
        ];
      }
    }),
  );
  return { ok: entries.every(([, r]) => r.status === 'up'), checks: Object.fromEntries(entries) };
}

/** The readiness answer: 503 when a required check is down, 200 `degraded` when only others are. */
export async function readiness(
  required: Record<string, HealthCheck>,
  degradedBy: Record<string, HealthCheck>,
  timeoutMs: number,
): Promise<{
  httpStatus: number;
  status: 'ok' | 'degraded' | 'unavailable';
  checks: Record<string, CheckResult>;
}> {
  const [hard, soft] = await Promise.all([
    runChecks(required, timeoutMs),
    runChecks(degradedBy, timeoutMs),
  ]);
  const status = !hard.ok ? 'unavailable' : soft.ok ? 'ok' : 'degraded';
  return {
    httpStatus: hard.ok ? 200 : 503,
    status,
    checks: { ...hard.checks, ...soft.checks },
  };
}

/**
 * `/health/live`: the process answers. `/health/ready` and `/health`: every required
 * dependency answers (503 naming the ones that do not), so an orchestrator never routes to a
 * service whose store is gone; one it works without only makes the answer `degraded`.
 */
export function healthRouter(options: HealthOptions): Router {
  const router = Router();
  const started = Date.now();
  const checks = options.checks ?? {};
  const timeoutMs = options.timeoutMs ?? 2000;

  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok', service: options.service });
  });

  const ready: RequestHandler = async (_req, res) => {
    const result = await readiness(checks, options.degradedBy ?? {}, timeoutMs);
    res.status(result.httpStatus).json({
      status: result.status,
      service: options.service,
      version: options.version,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      checks: result.checks,
    });
  };
  router.get('/health/ready', ready);
  router.get('/health', ready);
  return router;
}
