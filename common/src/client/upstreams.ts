/**
 * The replicas of one service, for whoever calls it (the gateway, a service client): which
 * replica takes the next request, and which are left out for now.
 *
 * - Choice: least requests in flight, ties broken in turn (so an idle set is round robin). A
 *   replica that slows down (a busy host, a long pause) keeps its requests longer and so gets
 *   fewer new ones; round robin would keep sending it an equal share.
 * - Passive ejection: a connection refused, reset or timed out leaves the replica out for a
 *   cool-off that doubles with each ejection in a row (up to `ejectMaxMs`); a success resets it.
 * - Active checks (two or more URLs only): each replica's `healthPath` every `probeIntervalMs`;
 *   a failed probe leaves it out, the next good one brings it back (and ends an ejection).
 *   One URL is taken to name a Service that an orchestrator already balances and checks: no
 *   probes, no timers.
 * - Panic: when no replica looks healthy, all are used rather than none, so an outage of a
 *   dependency they all share does not turn into "no upstream" for calls that would succeed.
 */

import { request } from 'undici';

export type ReplicaState = 'healthy' | 'ejected' | 'unhealthy';

export interface Replica {
  /** Base URL, without a trailing slash. */
  readonly url: string;
}

export interface ReplicaStatus {
  url: string;
  state: ReplicaState;
  inFlight: number;
  /** Ejections in a row (reset by a success). */
  ejections: number;
  /** The last active check, when there are checks. */
  lastCheck?: { ok: boolean; status?: number; error?: string; atMs: number };
}

export interface UpstreamSetOptions {
  /** The service, for logs. */
  name: string;
  /** One base URL, or one per replica. */
  urls: string | readonly string[];
  /** Readiness endpoint of each replica (the kit's `/health/ready`). */
  healthPath?: string;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  ejectBaseMs?: number;
  ejectMaxMs?: number;
  /** Told when a replica enters or leaves the healthy state. */
  onStateChange?: (url: string, from: ReplicaState, to: ReplicaState, reason: string) => void;
}

export interface UpstreamSet {
  readonly name: string;
  readonly replicas: readonly Replica[];
  /**
   * The replica for the next request among those `usable` allows (all by default): a healthy
   * one when there is any, else any (panic). Undefined only when `usable` allows none.
   */
  pick(usable?: (replica: Replica) => boolean): Replica | undefined;
  /** Counts a request in flight on the replica until the returned function is called. */
  begin(replica: Replica): () => void;
  /** The connection failed (refused, reset, timed out): eject for a cool-off. */
  failed(replica: Replica, reason: string): void;
  /** An answer came back (any status: the service spoke). */
  succeeded(replica: Replica): void;
  /** Replicas a request could go to now without panic. */
  healthyCount(): number;
  status(): ReplicaStatus[];
  /** Stops the active checks. */
  close(): void;
}

interface Entry extends Replica {
  inFlight: number;
  ejections: number;
  ejectedUntil: number;
  probeFailed: boolean;
  lastCheck?: ReplicaStatus['lastCheck'];
}

export const DEFAULT_HEALTH_PATH = '/health/ready';

export function createUpstreamSet(options: UpstreamSetOptions): UpstreamSet {
  const urls = (typeof options.urls === 'string' ? [options.urls] : options.urls).map((u) =>
    u.replace(/\/+$/, ''),
  );
  if (urls.length === 0) throw new Error(`${options.name}: no replica URL`);
  const healthPath = options.healthPath ?? DEFAULT_HEALTH_PATH;
  const probeIntervalMs = options.probeIntervalMs ?? 2000;
  const probeTimeoutMs = options.probeTimeoutMs ?? Math.min(1000, probeIntervalMs);
  const ejectBaseMs = options.ejectBaseMs ?? 1000;
  const ejectMaxMs = options.ejectMaxMs ?? 30_000;
  const entries: Entry[] = urls.map((url) => ({
    url,
    inFlight: 0,
    ejections: 0,
    ejectedUntil: 0,
    probeFailed: false,
  }));
  const byReplica = new Map<Replica, Entry>(entries.map((e) => [e, e]));
  let cursor = 0;

  const stateOf = (e: Entry, now = performance.now()): ReplicaState =>
    e.probeFailed ? 'unhealthy' : e.ejectedUntil > now ? 'ejected' : 'healthy';

  /** Applies a change and reports a move in or out of the healthy state. */
  function change(e: Entry, update: () => void, reason: string) {
    const before = stateOf(e);
    update();
    const after = stateOf(e);
    if (before !== after) options.onStateChange?.(e.url, before, after, reason);
  }

  function pick(usable?: (replica: Replica) => boolean): Replica | undefined {
    const now = performance.now();
    const candidates = usable ? entries.filter((e) => usable(e)) : entries;
    if (candidates.length === 0) return undefined;
    const healthy = candidates.filter((e) => stateOf(e, now) === 'healthy');
    const pool = healthy.length > 0 ? healthy : candidates;
    // Least in flight; scanning from a moving start spreads ties in turn.
    const start = cursor++ % pool.length;
    let best = pool[start]!;
    for (let i = 1; i < pool.length; i += 1) {
      const e = pool[(start + i) % pool.length]!;
      if (e.inFlight < best.inFlight) best = e;
    }
    return best;
  }

  const entry = (replica: Replica): Entry => {
    const e = byReplica.get(replica);
    if (!e) throw new Error(`${options.name}: not a replica of this set: ${replica.url}`);
    return e;
  };

  async function probe(e: Entry): Promise<void> {
    let result: NonNullable<Entry['lastCheck']>;
    try {
      const res = await request(`${e.url}${healthPath}`, {
        signal: AbortSignal.timeout(probeTimeoutMs),
        headers: { accept: 'application/json' },
      });
      // Read to the end (dump() would settle quietly on a body cut by the timeout), so the
      // connection is reused and a probe that times out mid-body counts as failed.
      await res.body.arrayBuffer();
      const status = res.statusCode;
      result =
        status >= 200 && status < 300
          ? { ok: true, status, atMs: Date.now() }
          : { ok: false, status, error: `answered ${status}`, atMs: Date.now() };
    } catch (err) {
      result = { ok: false, error: networkErrorText(err, probeTimeoutMs), atMs: Date.now() };
    }
    if (closed) return;
    e.lastCheck = result;
    change(
      e,
      () => {
        e.probeFailed = !result.ok;
        if (result.ok) e.ejectedUntil = 0;
      },
      result.ok ? 'health check passed' : `health check failed: ${result.error}`,
    );
  }

  let closed = false;
  let probing = false;
  const timer =
    entries.length > 1
      ? setInterval(() => {
          if (probing) return; // a slow round is not stacked on
          probing = true;
          void Promise.all(entries.map(probe)).finally(() => {
            probing = false;
          });
        }, probeIntervalMs)
      : undefined;
  timer?.unref();

  return {
    name: options.name,
    replicas: entries,
    pick,
    begin(replica) {
      const e = entry(replica);
      e.inFlight += 1;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        e.inFlight -= 1;
      };
    },
    failed(replica, reason) {
      const e = entry(replica);
      if (entries.length === 1) return; // nothing to fail over to: panic would pick it anyway
      change(
        e,
        () => {
          e.ejections += 1;
          const coolOff = Math.min(ejectMaxMs, ejectBaseMs * 2 ** Math.min(e.ejections - 1, 20));
          e.ejectedUntil = performance.now() + coolOff;
        },
        reason,
      );
    },
    succeeded(replica) {
      const e = entry(replica);
      if (e.ejectedUntil <= performance.now()) e.ejections = 0;
    },
    healthyCount() {
      const now = performance.now();
      return entries.filter((e) => stateOf(e, now) === 'healthy').length;
    },
    status() {
      const now = performance.now();
      return entries.map((e) => ({
        url: e.url,
        state: stateOf(e, now),
        inFlight: e.inFlight,
        ejections: e.ejections,
        ...(e.lastCheck ? { lastCheck: { ...e.lastCheck } } : {}),
      }));
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
    },
  };
}

/** A failed call's error as a short text: a timeout, or the socket error's code when there is one. */
export function networkErrorText(err: unknown, timeoutMs: number): string {
  const { name, code, message, cause } = (err ?? {}) as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  // fetch puts the socket error in `cause`; undici's request throws it as it is.
  return cause?.code ?? code ?? cause?.message ?? message ?? String(err);
}

/**
 * Socket errors raised before a connection existed: nothing of the request was sent, so it may
 * go to another replica whatever its method.
 */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/** Whether a socket error (bare, or wrapped by fetch) says the connection was never made. */
export function neverConnected(err: unknown): boolean {
  let current: unknown = err;
  // fetch wraps the socket error in `cause` (sometimes an AggregateError of attempts).
  for (let depth = 0; current && depth < 4; depth += 1) {
    const { code, errors, cause } = current as {
      code?: string;
      errors?: unknown[];
      cause?: unknown;
    };
    if (code && NOT_CONNECTED.has(code)) return true;
    if (Array.isArray(errors) && errors.length > 0) return errors.every(neverConnected);
    current = cause;
  }
  return false;
}
