import { Router, type Request } from 'express';
import { type HealthCheck, readiness } from '@ecom/common/health';
import type { ReplicaState } from '@ecom/common/client';
import type { ReplicaBreaker, UpstreamProxy } from './breaker-proxy';
import type { UpstreamName } from './routes';

type Circuit = 'closed' | 'open' | 'half-open';

export interface ReplicaHealth {
  /** Only for an operator (see `showsInternals`): the public edge does not name its network. */
  url?: string;
  /** This probe's answer. */
  status: 'up' | 'down';
  latencyMs: number;
  httpStatus?: number;
  error?: string;
  /** The balancer's view: ejected after a connection failure, unhealthy after a failed check. */
  state: ReplicaState;
  circuit: Circuit;
  inFlight: number;
}

export interface UpstreamHealth {
  /** Up when at least one replica is. */
  status: 'up' | 'down';
  /** Of the replica reported at this level: the first one up, else the first one. */
  latencyMs: number;
  httpStatus?: number;
  /** Open only when every replica's breaker is. */
  circuit: Circuit;
  error?: string;
  /** Replicas the balancer sends requests to now. */
  healthyReplicas: number;
  replicas: ReplicaHealth[];
}

export interface HealthAggregatorOptions {
  upstreams: Record<UpstreamName, readonly string[]>;
  proxies: Record<UpstreamName, UpstreamProxy>;
  timeoutMs: number;
  /**
   * One aggregate probe serves every `GET /health` within this window (and all calls made
   * while it runs): the route is public, and each probe costs every service a readiness check.
   */
  cacheMs: number;
  /** The gateway's own dependencies (Redis), for `/health/ready`: down, it is `degraded`, not unready. */
  ownChecks: Record<string, HealthCheck>;
  /** Whether this caller may see the replicas' addresses. Default: everyone. */
  showsInternals?: (req: Request) => boolean;
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
    const { name, cause } = (err ?? {}) as { name?: string; cause?: { code?: unknown } };
    const latencyMs = Math.round(performance.now() - started);
    if (name === 'TimeoutError') {
      return { up: false, latencyMs, error: `no answer within ${timeoutMs} ms` };
    }
    // fetch's own message is "fetch failed"; its cause's code says why (its message would
    // name the address).
    // Only a code: any other message (an invalid URL's, say) may name the address.
    const why = typeof cause?.code === 'string' ? cause.code : undefined;
    return { up: false, latencyMs, error: why ? `unreachable (${why})` : 'unreachable' };
  }
}

function circuitOf(breaker: ReplicaBreaker): Circuit {
  if (breaker.opened) return 'open';
  if (breaker.halfOpen) return 'half-open';
  return 'closed';
}

/** The upstream's circuit: the least open of its replicas'. */
export function upstreamCircuit(proxy: UpstreamProxy): Circuit {
  const states = proxy.replicas.map((r) => circuitOf(r.breaker));
  return states.includes('closed') ? 'closed' : states.includes('half-open') ? 'half-open' : 'open';
}

/** Replicas a request would go to now without panic: healthy, and their breaker not open. */
export function healthyReplicas(proxy: UpstreamProxy): number {
  const states = proxy.balancer.status();
  return proxy.replicas.filter((r, i) => states[i]!.state === 'healthy' && !r.breaker.opened)
    .length;
}

/**
 * `GET /health`: every replica's `/health/ready` probed in parallel, with latency, the
 * balancer's view of it and its breaker's state; a service is up when one of its replicas is;
 * 200 when all are up, 503 naming those down. `/health/live` is the
 * gateway process; `/health/ready` the gateway's own dependencies, so an orchestrator
 * does not pull the gateway out when one service behind it is down.
 */
export function healthRoutes(options: HealthAggregatorOptions): Router {
  const router = Router();
  const started = Date.now();

  const names = Object.keys(options.upstreams) as UpstreamName[];
  type Probe = { done: boolean; finishedAt: number; results: ReturnType<typeof probeEvery> };
  const probeEvery = () =>
    Promise.all(
      names.map((name) =>
        Promise.all(options.upstreams[name]!.map((url) => probe(url, options.timeoutMs))),
      ),
    );
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

  router.get('/health', async (req, res) => {
    const results = await probeAll();
    const internals = options.showsInternals?.(req) ?? true;
    const upstreams: Record<string, UpstreamHealth> = {};
    const down: string[] = [];
    names.forEach((name, i) => {
      const probes = results[i]!;
      const proxy = options.proxies[name]!;
      // The balancer's and breakers' states are read now; they cost nothing.
      const balancer = proxy.balancer.status();
      const replicas = probes.map((r, j): ReplicaHealth => ({
        ...(internals ? { url: proxy.replicas[j]!.url } : {}),
        status: r.up ? 'up' : 'down',
        latencyMs: r.latencyMs,
        ...(r.httpStatus !== undefined ? { httpStatus: r.httpStatus } : {}),
        ...(r.error ? { error: r.error } : {}),
        state: balancer[j]!.state,
        circuit: circuitOf(proxy.replicas[j]!.breaker),
        inFlight: balancer[j]!.inFlight,
      }));
      const shown = probes.find((r) => r.up) ?? probes[0]!;
      if (!shown.up) down.push(name);
      upstreams[name] = {
        status: shown.up ? 'up' : 'down',
        latencyMs: shown.latencyMs,
        ...(shown.httpStatus !== undefined ? { httpStatus: shown.httpStatus } : {}),
        circuit: upstreamCircuit(proxy),
        ...(shown.error ? { error: shown.error } : {}),
        healthyReplicas: healthyReplicas(proxy),
        replicas,
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

  router.get('/health/ready', async (req, res) => {
    // Its own dependencies (Redis: rate limits, the revoked-session list) degrade it only:
    // without them it still routes, so no gateway is taken out of rotation for them.
    const result = await readiness({}, options.ownChecks, options.timeoutMs);
    // A driver's error may name a host and port (Redis's does): for an operator only.
    const internals = options.showsInternals?.(req) ?? true;
    const checks = internals
      ? result.checks
      : Object.fromEntries(
          Object.entries(result.checks).map(([name, check]) => [
            name,
            check.error === undefined ? check : { ...check, error: 'unavailable' },
          ]),
        );
    res.status(result.httpStatus).json({ status: result.status, service: 'gateway', checks });
  });

  return router;
}
