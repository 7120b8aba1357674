import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createProxyMiddleware, type RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import CircuitBreaker from 'opossum';
import type { Logger } from '@ecom/common';
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
  timeoutMs: number;
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

/** Server-side failures: they count against the breaker. */
class UpstreamTimeout extends Error {}
class UpstreamUnreachable extends Error {}
/** The upstream answered 502/503/504: passed through unchanged, but counted. */
class UpstreamUnavailableAnswer extends Error {}
/** The client's fault (body too large): answered, never counted. */
class ClientFault extends Error {}

interface Pending {
  settled: boolean;
  timer: NodeJS.Timeout;
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
 * opossum breaker. The breaker counts timeouts, connection failures and 502/503/504
 * answers (never 4xx or other 5xx: those are the request's problem, not the service's);
 * while open, requests answer 503 at once without touching a socket; after
 * `resetTimeoutMs` one trial request decides whether it closes again.
 */
export function createUpstreamProxy(options: UpstreamProxyOptions): UpstreamProxy {
  const isHttps = options.target.startsWith('https:');
  const agentOptions = {
    keepAlive: true,
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
              settle(req, new ClientFault('body too large'));
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
        server.on('proxyRes', (proxyRes, req) => {
          delete proxyRes.headers['x-powered-by'];
          const status = proxyRes.statusCode ?? 502;
          settle(
            req,
            status === 502 || status === 503 || status === 504
              ? new UpstreamUnavailableAnswer(`answered ${status}`)
              : undefined,
          );
          (req as WithPending)[PENDING]?.observe?.(proxyRes);
        });
        server.on('error', (err, req) => {
          settle(req, new UpstreamUnreachable(err.message));
        });
        // The client went away: not the upstream's fault.
        server.on('econnreset', (_err, req) => settle(req));
      },
    ],
  });

  const action = (req: EdgeRequest, res: ServerResponse, observe: ResponseObserver | undefined) =>
    new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        settled: false,
        observe,
        resolve,
        reject,
        timer: setTimeout(() => {
          settle(req, new UpstreamTimeout(`no answer within ${options.timeoutMs} ms`));
          pending.proxyReq?.destroy();
        }, options.timeoutMs),
      };
      (req as WithPending)[PENDING] = pending;
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
      if (err instanceof UpstreamUnavailableAnswer) return; // already streamed as is
      if (res.headersSent) {
        // The upstream failed mid-response: all we can do is cut the connection.
        res.destroy();
        return;
      }
      if (err instanceof ClientFault) {
        sendError(req, res, 413, 'PAYLOAD_TOO_LARGE', 'Request body is too large', undefined, {
          Connection: 'close',
        });
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
