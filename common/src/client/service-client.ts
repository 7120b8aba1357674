import type { IncomingHttpHeaders } from 'node:http';
import CircuitBreaker from 'opossum';
import { request as undiciRequest, type Dispatcher } from 'undici';
import { DependencyUnavailableError, GatewayTimeoutError } from '../errors/app-error';
import { CORRELATION_ID_HEADER, REQUEST_ID_HEADER } from '../http/request-context';
import { getContext } from '../logging/context';
import {
  createUpstreamSet,
  neverConnected,
  networkErrorText,
  type Replica,
  type UpstreamSet,
  type UpstreamSetOptions,
} from './upstreams';

export interface ServiceClientOptions {
  /** Name of the upstream, used in errors and breaker metrics. */
  name: string;
  /** One base URL, or one per replica (balanced, with failover: see upstreams.ts). */
  baseUrl: string | readonly string[];
  /** Active checks and ejection of the replicas (when there are several). */
  replicas?: Pick<
    UpstreamSetOptions,
    'healthPath' | 'probeIntervalMs' | 'probeTimeoutMs' | 'ejectBaseMs' | 'ejectMaxMs'
  >;
  /** Per attempt. */
  timeoutMs?: number;
  /** Extra attempts for idempotent methods (GET/HEAD/PUT/DELETE) on network errors and 5xx. */
  retries?: number;
  retryDelayMs?: number;
  breaker?: {
    /** Percentage of failures within the window that opens the breaker. */
    errorThresholdPercentage?: number;
    /** Minimum calls in the window before the breaker may open (avoids tripping on the first error). */
    volumeThreshold?: number;
    /** How long the breaker stays open before letting one trial call through. */
    resetTimeoutMs?: number;
    rollingCountTimeoutMs?: number;
  };
}

export interface ServiceResponse<T> {
  status: number;
  body: T;
  /** Lower-case names, as Node's http module gives them. */
  headers: IncomingHttpHeaders;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** A server-side failure: counts against the breaker and may be retried. 4xx never does. */
class UpstreamFailure extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
    /** No connection was made: nothing was sent, any method may go to another replica. */
    readonly notSent = false,
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ServiceClient {
  request<T = unknown>(path: string, options?: RequestOptions): Promise<ServiceResponse<T>>;
  get<T = unknown>(path: string, headers?: Record<string, string>): Promise<ServiceResponse<T>>;
  readonly breaker: CircuitBreaker;
  readonly upstreams: UpstreamSet;
  /** Stops the replicas' health checks. */
  close(): void;
}

/**
 * HTTP client for service-to-service calls: a timeout per attempt (the call is aborted, not
 * just abandoned), bounded retries with backoff for idempotent methods, and an opossum
 * breaker that counts only server-side failures; while it is open, calls fail at once with
 * a 503-style DependencyUnavailableError. 4xx answers are returned to the caller as data.
 * Correlation and request ids of the current context are forwarded.
 *
 * With several replicas, each attempt goes to one the set picks, a retry to another than the
 * last; a connection that was never made (refused) moves to another replica at once whatever
 * the method, since nothing was sent. The breaker stays one per service: a bad replica is left
 * out by ejection and its idempotent calls are retried elsewhere, so what reaches the breaker
 * is the service as a whole failing.
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const timeoutMs = options.timeoutMs ?? 2000;
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const upstreams = createUpstreamSet({
    name: options.name,
    urls: options.baseUrl,
    ...options.replicas,
  });

  async function attempt(
    replica: Replica,
    path: string,
    init: RequestOptions,
  ): Promise<ServiceResponse<unknown>> {
    const ctx = getContext();
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (ctx?.correlationId) headers[CORRELATION_ID_HEADER] = ctx.correlationId;
    if (ctx?.requestId) headers[REQUEST_ID_HEADER] = ctx.requestId;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const done = upstreams.begin(replica);
    try {
      // undici's request, not fetch: kept-alive connections at under half fetch's CPU per call
      // (docs/benchmarks.md, "Service calls"); these calls sit on every order's path.
      // A failure before the whole answer is in (no connection, a timeout before the headers
      // or in the middle of the body, a reset) fails the attempt, and the replica with it.
      const failed = (err: unknown): UpstreamFailure => {
        // Duck-typed: the abort reason is a DOMException, which may come from another realm.
        const timedOut = (err as { name?: string } | undefined)?.name === 'TimeoutError';
        const reason = networkErrorText(err, timeoutMs);
        upstreams.failed(replica, reason);
        return new UpstreamFailure(
          timedOut ? `timed out after ${timeoutMs} ms` : `unreachable: ${reason}`,
          timedOut,
          !timedOut && neverConnected(err),
        );
      };
      let response: Awaited<ReturnType<typeof undiciRequest>>;
      let text: string;
      try {
        response = await undiciRequest(`${replica.url}${path}`, {
          // fetch upper-cased a method; undici sends it as given, and servers refuse `post`.
          method: (init.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod,
          headers,
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.body.text();
      } catch (err) {
        throw failed(err);
      }
      upstreams.succeeded(replica);
      const status = response.statusCode;
      if (status >= 500) {
        throw new UpstreamFailure(`answered ${status}`);
      }
      let body: unknown = text;
      if (text && String(response.headers['content-type'] ?? '').includes('json')) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new UpstreamFailure('answered malformed JSON');
        }
      }
      return { status, body, headers: response.headers };
    } finally {
      done();
    }
  }

  async function withRetries(path: string, init: RequestOptions) {
    const method = (init.method ?? 'GET').toUpperCase();
    let retriesLeft = IDEMPOTENT.has(method) ? retries : 0;
    // Refused connections move on at once, to each other replica at most once.
    let failoversLeft = upstreams.replicas.length - 1;
    const tried = new Set<Replica>();
    let last: Replica | undefined;
    let backoff = retryDelayMs;
    for (;;) {
      // One not tried yet; else another than the last; else the only one.
      const previous = last;
      const replica =
        upstreams.pick((r) => !tried.has(r)) ??
        upstreams.pick((r) => r !== previous) ??
        upstreams.replicas[0]!;
      tried.add(replica);
      last = replica;
      try {
        return await attempt(replica, path, init);
      } catch (err) {
        if (err instanceof UpstreamFailure && err.notSent && failoversLeft > 0) {
          failoversLeft -= 1;
          continue;
        }
        if (retriesLeft <= 0) throw err;
        retriesLeft -= 1;
        await sleep(backoff);
        backoff *= 2;
      }
    }
  }

  const breaker = new CircuitBreaker(withRetries, {
    name: options.name,
    // The per-attempt timeout aborts calls; the breaker's own timeout is a backstop.
    timeout: false,
    errorThresholdPercentage: options.breaker?.errorThresholdPercentage ?? 50,
    volumeThreshold: options.breaker?.volumeThreshold ?? 5,
    resetTimeout: options.breaker?.resetTimeoutMs ?? 10000,
    rollingCountTimeout: options.breaker?.rollingCountTimeoutMs ?? 10000,
  });

  async function request<T>(path: string, init: RequestOptions = {}): Promise<ServiceResponse<T>> {
    try {
      return (await breaker.fire(path, init)) as ServiceResponse<T>;
    } catch (err) {
      if (breaker.opened && !(err instanceof UpstreamFailure)) {
        throw new DependencyUnavailableError(
          options.name,
          `${options.name} is unavailable (circuit open)`,
          {
            circuit: 'open',
          },
        );
      }
      if (err instanceof UpstreamFailure && err.timedOut)
        throw new GatewayTimeoutError(options.name);
      throw new DependencyUnavailableError(options.name, `${options.name} is unavailable`, {
        reason: err instanceof Error ? err.message : String(err),
      });
    }
  }

  return {
    request,
    get: (path, headers) => request(path, { method: 'GET', headers }),
    breaker,
    upstreams,
    close() {
      upstreams.close();
      breaker.shutdown();
    },
  };
}
