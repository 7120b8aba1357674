import http, { type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { PassThrough } from 'node:stream';
import type Server from 'http-proxy';
import { createProxyMiddleware, type Options as ProxyOptions } from 'http-proxy-middleware';
import CircuitBreaker from 'opossum';
import {
  createUpstreamSet,
  neverConnected,
  type Replica,
  type UpstreamSet,
} from '@ecom/common/client';
import type { Logger } from '@ecom/common/logging';
import { SAFE_METHODS, type EdgeRequest } from './edge';
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
  /** One base URL per replica (a single one may be a Service an orchestrator balances). */
  targets: readonly string[];
  /** Active checks of each replica's readiness (two or more replicas only). */
  healthCheck?: { intervalMs: number; timeoutMs: number };
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

export type ReplicaBreaker = CircuitBreaker<
  [EdgeRequest, ServerResponse, ResponseObserver | undefined],
  void
>;

/** One replica of an upstream and the breaker guarding the hop to it. */
export interface ReplicaProxy {
  readonly url: string;
  readonly breaker: ReplicaBreaker;
}

export interface UpstreamProxy {
  readonly name: UpstreamName;
  readonly replicas: readonly ReplicaProxy[];
  /** Which replica takes a request; their health. */
  readonly balancer: UpstreamSet;
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
class UpstreamUnreachable extends Error {
  constructor(
    message: string,
    /** No connection was made, so nothing was sent: another replica may take the request. */
    readonly notSent = false,
  ) {
    super(message);
  }
}
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

/**
 * A request body kept while it may still have to go to another replica: a refused connection
 * has taken nothing, but the body piped into it is gone from the request stream. Bounded by the
 * body limit (a Content-Length over it is refused before; a chunked body is cut at it).
 */
interface Replay {
  chunks: Buffer[];
  bytes: number;
  /** Cleared once an attempt has a connection: from then on no other attempt may follow. */
  keep: boolean;
  ended: boolean;
  /** What the current attempt reads the body from. */
  sink?: PassThrough;
}

const PENDING = Symbol('gateway.pending');
const REPLAY = Symbol('gateway.replay');
const COUNTED = Symbol('gateway.bodyCounted');
type WithPending = IncomingMessage & {
  [PENDING]?: Pending;
  [REPLAY]?: Replay;
  [COUNTED]?: true;
};

const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-port', 'x-forwarded-proto'] as const;

const hasBody = (req: IncomingMessage) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/** Starts keeping the request's body as it arrives, for attempts on another replica. */
function keepBody(req: WithPending, limitBytes: number): Replay {
  // readableEnded, not complete: a body the parser has read may not have been consumed yet.
  const replay: Replay = { chunks: [], bytes: 0, keep: true, ended: req.readableEnded };
  req.on('data', (chunk: Buffer) => {
    if (replay.keep) {
      replay.bytes += chunk.length;
      // Over the limit the request is answered 413 (the chunked body check): keep no more.
      if (replay.bytes > limitBytes) dropKept(replay);
      else replay.chunks.push(chunk);
    }
    replay.sink?.write(chunk);
  });
  req.once('end', () => {
    replay.ended = true;
    replay.sink?.end();
  });
  return replay;
}

/** No attempt can follow: the kept bytes go; on failure the stream to the upstream too. */
function dropKept(replay: Replay, failed = false): void {
  replay.keep = false;
  replay.chunks = [];
  if (failed) replay.sink?.destroy();
}

/** A stream of the kept body so far, then of the rest as it arrives. */
function replayStream(replay: Replay): PassThrough {
  replay.sink?.destroy();
  const sink = new PassThrough();
  for (const chunk of replay.chunks) sink.write(chunk);
  if (replay.ended) sink.end();
  replay.sink = sink;
  return sink;
}

function settle(req: IncomingMessage, err?: Error): void {
  const pending = (req as WithPending)[PENDING];
  if (!pending || pending.settled) return;
  pending.settled = true;
  clearTimeout(pending.timer);
  if (err) pending.reject(err);
  else pending.resolve();
}

/**
 * One upstream: its replicas (common's upstream set picks one per request: least in flight,
 * ejection on connection failures, active readiness checks with two or more), an
 * http-proxy-middleware instance on a keep-alive agent, and an opossum breaker per replica.
 * A request whose connection was refused (nothing sent) goes to another replica, whatever its
 * method; once a connection is made it is never sent again.
 *
 * Breakers are per replica, as in other proxies: one dead or stalled replica opens its own and
 * is left out, while the others keep serving; only when every replica's breaker is open does
 * the upstream answer 503 at once. Each breaker guards its hop: it counts connection failures
 * and upstreams that do not answer in time. An answer, whatever its status, is the service
 * speaking (a 503 from a service whose own dependency is down, or from one route that is
 * switched off, says nothing about its other routes) and passes through uncounted; neither do
 * client faults count. While open, requests answer 503 at once without touching a socket; after
 * `resetTimeoutMs` one trial request decides whether it closes again.
 *
 * Clocks: the client has `clientTimeoutMs` to send its body (else 408); the upstream's
 * `timeoutMs` starts once it has the whole request, so a slow client never counts against
 * the service; after the headers, a response body silent for `timeoutMs` is cut, and so is a
 * client that reads nothing for `clientTimeoutMs` (it would hold an upstream socket forever).
 */
export function createUpstreamProxy(options: UpstreamProxyOptions): UpstreamProxy {
  if (options.targets.length === 0) throw new Error(`${options.name}: no replica URL`);
  const isHttps = options.targets[0]!.startsWith('https:');
  const agentOptions = {
    keepAlive: true,
    // Idle sockets go before the services close theirs (65 s, common's listenHttp), so none is
    // reused in the instant its server is closing it.
    timeout: 60_000,
    maxSockets: options.maxSockets,
    scheduling: 'lifo' as const,
  };
  // One agent: it pools sockets per replica (host and port), maxSockets each.
  const agent = isHttps ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  const balancer = createUpstreamSet({
    name: options.name,
    urls: options.targets,
    probeIntervalMs: options.healthCheck?.intervalMs,
    probeTimeoutMs: options.healthCheck?.timeoutMs,
    onStateChange: (url, from, to, reason) =>
      options.logger[to === 'healthy' ? 'info' : 'warn']('upstream replica state', {
        upstream: options.name,
        replica: url,
        from,
        to,
        reason,
      }),
  });

  // The proxy server and its options, captured by a plugin: each attempt is sent with the
  // replica's target (and, on a second attempt, the kept body) through the same handlers.
  let server!: Server;
  let proxyOptions!: ProxyOptions;
  createProxyMiddleware<IncomingMessage, ServerResponse>({
    // Parsed once per replica below: a string target would be re-parsed on every request.
    target: targetObject(options.targets[0]!),
    changeOrigin: true,
    xfwd: true,
    // req.url is already a path (`/api/...`): without this, http-proxy re-parses it with the
    // legacy url.parse on every request only to get the same path back.
    toProxy: true,
    agent,
    // The default plugins log and answer errors themselves; these handlers do it instead.
    ejectPlugins: true,
    plugins: [
      (proxyServer, pluginOptions) => {
        server = proxyServer as unknown as Server;
        proxyOptions = pluginOptions as ProxyOptions;
      },
      (server) => {
        server.on('start', (req) => {
          // A chunked body has no Content-Length to check up front: count it as it streams.
          if (req.headers['transfer-encoding'] === undefined) return;
          if ((req as WithPending)[COUNTED]) return; // a second attempt: already counted
          (req as WithPending)[COUNTED] = true;
          let received = 0;
          const onData = (chunk: Buffer) => {
            received += chunk.length;
            if (received > ((req as EdgeRequest).bodyLimitBytes ?? options.bodyLimitBytes)) {
              req.off('data', onData);
              req.unpipe();
              settle(req, bodyTooLarge());
              (req as WithPending)[PENDING]?.proxyReq?.destroy();
            }
          };
          req.on('data', onData);
        });
        server.on('proxyReq', (proxyReq, req) => {
          const replay = (req as WithPending)[REPLAY];
          if (replay?.keep) {
            // Connected (or a kept-alive socket): whatever happens now, no other attempt follows.
            const socket = proxyReq.socket;
            if (socket?.connecting) socket.once('connect', () => dropKept(replay));
            else dropKept(replay);
          }
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
          settle(req, new UpstreamUnreachable(err.message, neverConnected(err)));
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
    if (res.destroyed) {
      // The client's connection went while the upstream was answering: nothing will read it,
      // so its socket goes back now, not when the body watch gives up.
      proxyRes.destroy();
      return;
    }
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

  /** One attempt on one replica. */
  const send = (
    target: ReturnType<typeof targetObject>,
    req: EdgeRequest,
    res: ServerResponse,
    observe: ResponseObserver | undefined,
  ) =>
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
      const replay = (req as WithPending)[REPLAY];
      try {
        server.web(req, res, {
          ...(proxyOptions as Server.ServerOptions),
          target,
          ...(replay ? { buffer: replayStream(replay) } : {}),
        });
      } catch (err) {
        settle(req, new UpstreamUnreachable(err instanceof Error ? err.message : String(err)));
      }
    });

  const replicas = balancer.replicas.map((replica) => {
    const target = targetObject(replica.url);
    const breaker: ReplicaBreaker = new CircuitBreaker(
      (req: EdgeRequest, res: ServerResponse, observe: ResponseObserver | undefined) =>
        send(target, req, res, observe),
      {
        name: `${options.name} ${replica.url}`,
        timeout: false, // the attempt's own timer aborts the upstream request
        errorThresholdPercentage: options.breaker.errorThresholdPercentage,
        volumeThreshold: options.breaker.volumeThreshold,
        resetTimeout: options.breaker.resetTimeoutMs,
        rollingCountTimeout: options.breaker.rollingWindowMs,
        enableSnapshots: false,
        // Filtered errors still reject fire() but are not counted as failures.
        errorFilter: (err: unknown) => err instanceof ClientFault,
      },
    );
    const labels = { upstream: options.name, replica: replica.url };
    breaker.on('open', () => options.logger.warn('upstream circuit opened', labels));
    breaker.on('halfOpen', () => options.logger.info('upstream circuit half-open', labels));
    breaker.on('close', () => options.logger.info('upstream circuit closed', labels));
    return { url: replica.url, replica, breaker };
  });
  const byReplica = new Map<Replica, (typeof replicas)[number]>(
    replicas.map((r) => [r.replica, r]),
  );
  /** A breaker that would let a request through now: closed, or half-open with its trial free. */
  const admits = (breaker: ReplicaBreaker) => breaker.closed || breaker.pendingClose;

  /**
   * Attempts on replicas the balancer picks among those whose breaker admits a request, moving
   * on only when a connection was refused (nothing sent). Rejects with the last attempt's error,
   * or with an open-circuit error when no breaker admits one.
   */
  async function attempts(req: EdgeRequest, res: ServerResponse, observe?: ResponseObserver) {
    const tried = new Set<Replica>();
    const replay =
      replicas.length > 1 && hasBody(req)
        ? ((req as WithPending)[REPLAY] = keepBody(
            req,
            req.bodyLimitBytes ?? options.bodyLimitBytes,
          ))
        : undefined;
    // http-proxy appends to these on each attempt: each attempt starts from the client's.
    const forwarded = FORWARDED_HEADERS.map((name) => [name, req.headers[name]] as const);
    let lastError: unknown;
    for (;;) {
      const replica = balancer.pick((r) => !tried.has(r) && admits(byReplica.get(r)!.breaker));
      if (!replica) {
        if (replay) dropKept(replay, true);
        // Every breaker open (answered as one open breaker is), or the last refusal.
        throw lastError ?? new Error('every replica circuit is open');
      }
      if (tried.size > 0) {
        for (const [name, value] of forwarded) {
          if (value === undefined) delete req.headers[name];
          else req.headers[name] = value;
        }
      }
      tried.add(replica);
      const done = balancer.begin(replica);
      try {
        await byReplica.get(replica)!.breaker.fire(req, res, observe);
        balancer.succeeded(replica);
        if (replay) dropKept(replay);
        return;
      } catch (err) {
        lastError = err;
        if (err instanceof UpstreamTimeout || err instanceof UpstreamUnreachable) {
          balancer.failed(replica, err.message);
        }
        const retry =
          err instanceof UpstreamUnreachable &&
          err.notSent &&
          !res.headersSent &&
          (!replay || replay.keep);
        if (!retry) {
          if (replay) dropKept(replay, true);
          throw err;
        }
        options.logger.info('upstream replica refused the connection; trying another', {
          upstream: options.name,
          replica: replica.url,
        });
      } finally {
        done();
      }
    }
  }

  async function forward(
    req: EdgeRequest,
    res: ServerResponse,
    observe?: ResponseObserver,
  ): Promise<void> {
    try {
      await attempts(req, res, observe);
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
        // A write may still be made after the answer's time ran out (a store that froze and
        // came back): the client is told, and how to learn the outcome without a second write.
        const write = !SAFE_METHODS.has(req.method ?? 'GET');
        sendError(
          req,
          res,
          504,
          'UPSTREAM_TIMEOUT',
          write
            ? `${options.name} did not answer in time; the request may still take effect: send it again with the same Idempotency-Key to learn its outcome`
            : `${options.name} did not answer in time`,
          { dependency: options.name, ...(write ? { outcome: 'unknown' } : {}) },
        );
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
    replicas: replicas.map(({ url, breaker }) => ({ url, breaker })),
    balancer,
    forward,
    close() {
      balancer.close();
      for (const { breaker } of replicas) breaker.shutdown();
      agent.destroy();
    },
  };
}
