import CircuitBreaker from 'opossum';
import { DependencyUnavailableError, GatewayTimeoutError } from '../errors/app-error';
import { CORRELATION_ID_HEADER, REQUEST_ID_HEADER } from '../http/request-context';
import { getContext } from '../logging/context';

export interface ServiceClientOptions {
  /** Name of the upstream, used in errors and breaker metrics. */
  name: string;
  baseUrl: string;
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
  fetchImpl?: typeof fetch;
}

export interface ServiceResponse<T> {
  status: number;
  body: T;
  headers: Headers;
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
  ) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface ServiceClient {
  request<T = unknown>(path: string, options?: RequestOptions): Promise<ServiceResponse<T>>;
  get<T = unknown>(path: string, headers?: Record<string, string>): Promise<ServiceResponse<T>>;
  readonly breaker: CircuitBreaker;
}

/**
 * HTTP client for service-to-service calls: a timeout per attempt (the call is aborted, not
 * just abandoned), bounded retries with backoff for idempotent methods, and an opossum
 * breaker that counts only server-side failures; while it is open, calls fail at once with
 * a 503-style DependencyUnavailableError. 4xx answers are returned to the caller as data.
 * Correlation and request ids of the current context are forwarded.
 */
export function createServiceClient(options: ServiceClientOptions): ServiceClient {
  const timeoutMs = options.timeoutMs ?? 2000;
  const retries = options.retries ?? 2;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const doFetch = options.fetchImpl ?? fetch;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');

  async function attempt(path: string, init: RequestOptions): Promise<ServiceResponse<unknown>> {
    const ctx = getContext();
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (ctx?.correlationId) headers[CORRELATION_ID_HEADER] = ctx.correlationId;
    if (ctx?.requestId) headers[REQUEST_ID_HEADER] = ctx.requestId;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(`${baseUrl}${path}`, {
        method: init.method ?? 'GET',
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      // Duck-typed: the abort reason is a DOMException, which may come from another realm.
      const { name, message } = (err ?? {}) as { name?: string; message?: string };
      const timedOut = name === 'TimeoutError';
      throw new UpstreamFailure(
        timedOut ? `timed out after ${timeoutMs} ms` : `unreachable: ${message ?? String(err)}`,
        timedOut,
      );
    }
    const text = await response.text();
    if (response.status >= 500) {
      throw new UpstreamFailure(`answered ${response.status}`);
    }
    let body: unknown = text;
    if (text && (response.headers.get('content-type') ?? '').includes('json')) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new UpstreamFailure('answered malformed JSON');
      }
    }
    return { status: response.status, body, headers: response.headers };
  }

  async function withRetries(path: string, init: RequestOptions) {
    const method = (init.method ?? 'GET').toUpperCase();
    const attempts = IDEMPOTENT.has(method) ? retries + 1 : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i += 1) {
      if (i > 0) await sleep(retryDelayMs * 2 ** (i - 1));
      try {
        return await attempt(path, init);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
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
  };
}
