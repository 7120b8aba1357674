import { Router, type RequestHandler } from 'express';

/** A readiness check: resolves when the dependency answers, throws otherwise. */
export type HealthCheck = () => Promise<unknown>;

export interface HealthOptions {
  service: string;
  version?: string;
  checks?: Record<string, HealthCheck>;
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

/**
 * `/health/live`: the process answers. `/health/ready` and `/health`: every dependency
 * answers (503 naming the ones that do not), so an orchestrator never routes to a service
 * whose store or bus is gone.
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
    const result = await runChecks(checks, timeoutMs);
    res.status(result.ok ? 200 : 503).json({
      status: result.ok ? 'ok' : 'unavailable',
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
