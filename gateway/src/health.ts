import { Router } from 'express';
import { type HealthCheck, runChecks } from '@ecom/common/health';
import type { UpstreamProxy } from './breaker-proxy';
import type { UpstreamName } from './routes';

export interface UpstreamHealth {
  status: 'up' | 'down';
  latencyMs: number;
  httpStatus?: number;
  circuit: 'closed' | 'open' | 'half-open';
  error?: string;
}

export interface HealthAggregatorOptions {
  upstreams: Record<UpstreamName, string>;
  proxies: Record<UpstreamName, UpstreamProxy>;
  timeoutMs: number;
  /**
   * One aggregate probe serves every `GET /health` within this window (and all calls made
   * while it runs): the route is public, and each probe costs every service a readiness check.
   */
  cacheMs: number;
  /** The gateway's own dependencies (Redis), for `/health/ready`. */
  ownChecks: Record<string, HealthCheck>;
}

async function probe(baseUrl: string, timeoutMs: number) {
  const started = performance.now();
  try {
    const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/health/ready`, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    });
    await res.arrayBuffer(); // drain so the connection is released
    const latencyMs = Math.round(performance.now() - started);
    return res.ok
      ? { up: true, latencyMs, httpStatus: res.status }
      : { up: false, latencyMs, httpStatus: res.status, error: `answered ${res.status}` };
  } catch (err) {
    const { name, message } = (err ?? {}) as { name?: string; message?: string };
    return {
      up: false,
      latencyMs: Math.round(performance.now() - started),
      error:
        name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (message ?? 'unreachable'),
    };
  }
}

function circuitOf(proxy: UpstreamProxy): UpstreamHealth['circuit'] {
  if (proxy.breaker.opened) return 'open';
  if (proxy.breaker.halfOpen) return 'half-open';
  return 'closed';
}

/**
 * `GET /health`: every service's `/health/ready` probed in parallel, with latency and the
 * breaker state; 200 when all are up, 503 naming those down. `/health/live` is the
 * gateway process; `/health/ready` the gateway's own dependencies, so an orchestrator
 * does not pull the gateway out when one service behind it is down.
 */
export function healthRoutes(options: HealthAggregatorOptions): Router {
  const router = Router();
  const started = Date.now();

  const names = Object.keys(options.upstreams) as UpstreamName[];
  type Probe = { done: boolean; finishedAt: number; results: ReturnType<typeof probeEvery> };
  const probeEvery = () =>
    Promise.all(names.map((name) => probe(options.upstreams[name], options.timeoutMs)));
  let latest: Probe | undefined;
  /** Calls made while a probe runs share it; its answer serves `cacheMs` after it finished. */
  const probeAll = () => {
    if (!latest || (latest.done && performance.now() - latest.finishedAt >= options.cacheMs)) {
      const entry: Probe = { done: false, finishedAt: 0, results: probeEvery() };
      void entry.results.then(() => {
        entry.done = true;
        entry.finishedAt = performance.now();
      });
      latest = entry;
    }
    return latest.results;
  };

  router.get('/health', async (_req, res) => {
    const results = await probeAll();
    const upstreams: Record<string, UpstreamHealth> = {};
    const down: string[] = [];
    names.forEach((name, i) => {
      const r = results[i]!;
      if (!r.up) down.push(name);
      upstreams[name] = {
        status: r.up ? 'up' : 'down',
        latencyMs: r.latencyMs,
        ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
        // The breaker state is read now; it costs nothing.
        circuit: circuitOf(options.proxies[name]),
        ...(r.error ? { error: r.error } : {}),
      };
    });
    res.status(down.length === 0 ? 200 : 503).json({
      status: down.length === 0 ? 'ok' : 'degraded',
      service: 'gateway',
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      down,
      upstreams,
    });
  });

  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok', service: 'gateway' });
  });

  router.get('/health/ready', async (_req, res) => {
    const result = await runChecks(options.ownChecks, options.timeoutMs);
    res.status(result.ok ? 200 : 503).json({
      status: result.ok ? 'ok' : 'unavailable',
      service: 'gateway',
      checks: result.checks,
    });
  });

  return router;
}
