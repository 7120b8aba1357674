import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createProxyMiddleware, type RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import CircuitBreaker from 'opossum';
import type { Logger } from '@ecom/common/logging';
import type { EdgeRequest } from './edge';
import { sendError } from './http-errors';
import type { UpstreamName } from './routes';

export interface BreakerSettings {
  errorThresholdPercentage: number;
  volumeThreshold: number;
  resetTimeoutMs: number;
  rollingWindowMs: number;
}

export interface UpstreamProxyOptions {
  name: UpstreamName;
  target: string;
  /** From the moment the upstream has the whole request to its response headers, and the longest silence allowed within its response body. */
  timeoutMs: number;
  /** How long a client may take to send its request body, or stop reading the response. */
  clientTimeoutMs: number;
  maxSockets: number;
  /** Bytes a chunked (no Content-Length) request body may reach before a 413. */
  bodyLimitBytes: number;
  breaker: BreakerSettings;
  logger: Logger;
}

/** Called with each upstream response before it is streamed to the client. */
export type ResponseObserver = (proxyRes: IncomingMessage) => void;

export interface UpstreamProxy {
  readonly name: UpstreamName;
  readonly breaker: CircuitBreaker<
    [EdgeRequest, ServerResponse, ResponseObserver | undefined],
    void
  >;
  /** Proxies the request; never rejects: failures are answered in the common error shape. */
  forward(req: EdgeRequest, res: ServerResponse, observe?: ResponseObserver): Promise<void>;
  close(): void;
}

/** The fields http-proxy reads from a target, computed once. */
function targetObject(target: string) {
  const url = new URL(target);
  return {
    protocol: url.protocol,
    host: url.host,
    hostname: url.hostname,
    port: url.port,
    path: url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, ''),
  };
}

/** Failures of the hop to the service: they count against the breaker. */
class UpstreamTimeout extends Error {}
class UpstreamUnreachable extends Error {}
/** The client's fault (body too large, body too slow): answered, never counted. */
class ClientFault extends Error {
  constructor(
    readonly status: 408 | 413,
    readonly code: 'REQUEST_TIMEOUT' | 'PAYLOAD_TOO_LARGE',
    message: string,
  ) {
    super(message);
  }
}
const bodyTooLarge = () => new ClientFault(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');

interface Pending {
  settled: boolean;
  timer?: NodeJS.Timeout;
  proxyReq?: ClientRequest;
  observe?: ResponseObserver;
  resolve(): void;
  reject(err: Error): void;
}

const PENDING = Symbol('gateway.pending');
type WithPending = IncomingMessage & { [PENDING]?: Pending };

function settle(req: IncomingMessage, err?: Error): void {
  const pending = (req as WithPending)[PENDING];
  if (!pending || pending.settled) return;
  pending.settled = true;
  clearTimeout(pending.timer);
  if (err) pending.reject(err);
  else pending.resolve();
}

/**
 * One upstream: an http-proxy-middleware instance on a keep-alive agent, wrapped in an
 * opossum breaker. The breaker guards the hop: it counts connection failures and upstreams
 * that do not answer in time. An answer, whatever its status, is the service speaking (a 503
 * from a service whose own dependency is down, or from one route that is switched off, says
 * nothing about its other routes) and passes through uncounted; neither do client faults
 * count. While open, requests answer 503 at once without touching a socket; after
 * `resetTimeoutMs` one trial request decides whether it closes again.
 *
 * Clocks: the client has `clientTimeoutMs` to send its body (else 408); the upstream's
 * `timeoutMs` starts once it has the whole request, so a slow client never counts against
 * the service; after the headers, a response body silent for `timeoutMs` is cut, and so is a
 * client that reads nothing for `clientTimeoutMs` (it would hold an upstream socket forever).
 */
export function createUpstreamProxy(options: UpstreamProxyOptions): UpstreamProxy {
  const isHttps = options.target.startsWith('https:');
  const agentOptions = {
    keepAlive: true,
    // Idle sockets go before the services close theirs (65 s, common's listenHttp), so none is
    // reused in the instant its server is closing it.
    timeout: 60_000,
    maxSockets: options.maxSockets,
    scheduling: 'lifo' as const,
  };
  const agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);

  const proxy: ProxyHandler = createProxyMiddleware<IncomingMessage, ServerResponse>({
    // Parsed once here: a string target would be re-parsed by http-proxy on every request.
    target: targetObject(options.target),
    changeOrigin: true,
    xfwd: true,
    // req.url is already a path (`/api/...`): without this, http-proxy re-parses it with the
    // legacy url.parse on every request only to get the same path back.
    toProxy: true,
    agent,
    // The default plugins log and answer errors themselves; these handlers do it instead.
    ejectPlugins: true,
    plugins: [
      (server) => {
        server.on('start', (req) => {
          // A chunked body has no Content-Length to check up front: count it as it streams.
          if (req.headers['transfer-encoding'] === undefined) return;
          let received = 0;
          const onData = (chunk: Buffer) => {
            received += chunk.length;
            if (received > options.bodyLimitBytes) {
              req.off('data', onData);
              req.unpipe();
              settle(req, bodyTooLarge());
              (req as WithPending)[PENDING]?.proxyReq?.destroy();
            }
          };
          req.on('data', onData);
        });
        server.on('proxyReq', (proxyReq, req) => {
          const pending = (req as WithPending)[PENDING];
          if (!pending) return;
          pending.proxyReq = proxyReq;
          if (pending.settled) proxyReq.destroy();
        });
        server.on('proxyRes', (proxyRes, req, res) => {
          delete proxyRes.headers['x-powered-by'];
          // The client connection's fate is the client's and Node's, not the upstream's: without
          // this, http-proxy answers `Connection: keep-alive` to a client that asked to close.
          delete proxyRes.headers['keep-alive'];
          proxyRes.headers.connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
          settle(req);
          (req as WithPending)[PENDING]?.observe?.(proxyRes);
          watchResponseBody(proxyRes, res);
        });
        server.on('error', (err, req) => {
          settle(req, new UpstreamUnreachable(err.message));
        });
        // The client went away: not the upstream's fault.
        server.on('econnreset', (_err, req) => settle(req));
      },
    ],
  });

  const deadline = (pending: Pending, ms: number, onExpiry: () => void) => {
    pending.timer = setTimeout(onExpiry, ms);
  };
  /** Settles with `err` and aborts the upstream request. */
  const abandon = (req: IncomingMessage, pending: Pending, err: Error) => {
    settle(req, err);
    pending.proxyReq?.destroy();
  };
  const upstreamClock = (req: IncomingMessage, pending: Pending) =>
    deadline(pending, options.timeoutMs, () =>
      abandon(req, pending, new UpstreamTimeout(`no answer within ${options.timeoutMs} ms`)),
    );
  /**
   * The body is still arriving: the client's time, not the upstream's. Unless it is the
   * upstream side that holds it up (no socket yet, or not taking the bytes as fast as they
   * come): then the upstream's clock runs from here.
   */
  const clientBodyClock = (req: IncomingMessage, pending: Pending) =>
    deadline(pending, options.clientTimeoutMs, () => {
      const upstreamSide = pending.proxyReq;
      if (!upstreamSide?.socket || upstreamSide.writableNeedDrain) {
        upstreamClock(req, pending);
        return;
      }
      abandon(
        req,
        pending,
        new ClientFault(
          408,
          'REQUEST_TIMEOUT',
          `Request body not received within ${options.clientTimeoutMs} ms`,
        ),
      );
    });

  /**
   * After the headers, until the body is through: an upstream whose body stops arriving for
   * `timeoutMs`, or that dies mid-body, gets the client connection cut (the status is out, so
   * that is the only signal left); a client that reads nothing for `clientTimeoutMs` is cut
   * too; a client that goes away releases the upstream socket at once.
   */
  function watchResponseBody(proxyRes: IncomingMessage, res: ServerResponse) {
    if (proxyRes.complete) return;
    let clientStuckSince = 0;
    const timer = setTimeout(() => {
      if (res.writableNeedDrain) {
        // The client is the slow one: the stream is paused by its back-pressure.
        const now = performance.now();
        clientStuckSince ||= now;
        if (now - clientStuckSince < options.clientTimeoutMs) {
          timer.refresh();
          return;
        }
        options.logger.warn('client stopped reading', {
          upstream: options.name,
          silentMs: Math.round(now - clientStuckSince),
        });
      } else {
        options.logger.warn('upstream stalled mid-response', {
          upstream: options.name,
          silentMs: options.timeoutMs,
        });
      }
      proxyRes.destroy();
      res.destroy();
    }, options.timeoutMs);
    const onData = () => {
      clientStuckSince = 0;
      timer.refresh();
    };
    proxyRes.on('data', onData);
    proxyRes.once('close', () => {
      clearTimeout(timer);
      proxyRes.off('data', onData);
      // Closed before its end: the client must not wait for bytes that will never come.
      if (!proxyRes.complete) res.destroy();
    });
    res.once('close', () => {
      if (!proxyRes.complete) proxyRes.destroy();
    });
  }

  const action = (req: EdgeRequest, res: ServerResponse, observe: ResponseObserver | undefined) =>
    new Promise<void>((resolve, reject) => {
      const pending: Pending = { settled: false, observe, resolve, reject };
      (req as WithPending)[PENDING] = pending;
      if (req.complete) {
        upstreamClock(req, pending);
      } else {
        clientBodyClock(req, pending);
        req.once('end', () => {
          if (pending.settled) return;
          clearTimeout(pending.timer);
          upstreamClock(req, pending);
        });
      }
      void proxy(req, res, (err?: unknown) => {
        settle(req, new UpstreamUnreachable(err instanceof Error ? err.message : String(err)));
      });
    });

  const breaker = new CircuitBreaker(action, {
    name: options.name,
    timeout: false, // the action's own timer aborts the upstream request
    errorThresholdPercentage: options.breaker.errorThresholdPercentage,
    volumeThreshold: options.breaker.volumeThreshold,
    resetTimeout: options.breaker.resetTimeoutMs,
    rollingCountTimeout: options.breaker.rollingWindowMs,
    enableSnapshots: false,
    // Filtered errors still reject fire() but are not counted as failures.
    errorFilter: (err: unknown) => err instanceof ClientFault,
  });
  breaker.on('open', () =>
    options.logger.warn('upstream circuit opened', { upstream: options.name }),
  );
  breaker.on('halfOpen', () =>
    options.logger.info('upstream circuit half-open', { upstream: options.name }),
  );
  breaker.on('close', () =>
    options.logger.info('upstream circuit closed', { upstream: options.name }),
  );

  async function forward(
    req: EdgeRequest,
    res: ServerResponse,
    observe?: ResponseObserver,
  ): Promise<void> {
    try {
      await breaker.fire(req, res, observe);
    } catch (err) {
      if (res.headersSent) {
        // The upstream failed mid-response: all we can do is cut the connection.
        res.destroy();
        return;
      }
      if (err instanceof ClientFault) {
        // The rest of the body may still be on its way: close rather than read it.
        sendError(req, res, err.status, err.code, err.message, undefined, { Connection: 'close' });
        return;
      }
      if (err instanceof UpstreamTimeout) {
        sendError(req, res, 504, 'UPSTREAM_TIMEOUT', `${options.name} did not answer in time`, {
          dependency: options.name,
        });
        return;
      }
      if (err instanceof UpstreamUnreachable) {
        sendError(req, res, 503, 'DEPENDENCY_UNAVAILABLE', `${options.name} is unavailable`, {
          dependency: options.name,
          reason: 'unreachable',
        });
        return;
      }
      // EOPENBREAKER (open or a half-open trial already in flight), ESHUTDOWN.
      sendError(
        req,
        res,
        503,
        'DEPENDENCY_UNAVAILABLE',
        `${options.name} is unavailable (circuit open)`,
        { dependency: options.name, circuit: 'open' },
        { 'Retry-After': String(Math.max(1, Math.ceil(options.breaker.resetTimeoutMs / 1000))) },
      );
    }
  }

  return {
    name: options.name,
    breaker,
    forward,
    close() {
      breaker.shutdown();
      agent.destroy();
    },
  };
}
