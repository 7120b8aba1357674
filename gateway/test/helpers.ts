import express from 'express';
import { createHmac, randomUUID } from 'node:crypto';
import http, {
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import jwt from 'jsonwebtoken';
import { generateEs256KeyPair, signAccessToken, type AuthUser } from '@ecom/common/auth';
import { errorBody } from '@ecom/common/errors';
import { createLogger } from '@ecom/common/logging';
import { loadGatewayConfig, type GatewayConfig } from '../src/config';

export const logger = createLogger('gateway-test', 'silent');

export const keys = generateEs256KeyPair();
export const ISSUER = 'ecom-auth';
export const AUDIENCE = 'ecom-api';

export function tokenFor(user: AuthUser, expiresIn: string | number = '15m'): string {
  return signAccessToken(user, {
    algorithm: 'ES256',
    key: keys.privateKey,
    issuer: ISSUER,
    audience: AUDIENCE,
    expiresIn,
  });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function claimsFor(user: AuthUser, overrides: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: user.id,
    role: user.role,
    type: 'access',
    iss: ISSUER,
    aud: AUDIENCE,
    iat: now,
    exp: now + 900,
    jti: randomUUID(),
    ...overrides,
  };
}

/** A token whose header says `alg: none` and whose signature is empty. */
export function algNoneToken(user: AuthUser): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsFor(user))}.`;
}

/** Algorithm confusion: HS256 "signed" with the public key as the shared secret. */
export function hs256WithPublicKeyToken(user: AuthUser): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claimsFor(user))}`;
  const sig = createHmac('sha256', keys.publicKey).update(head).digest('base64url');
  return `${head}.${sig}`;
}

/** A valid token whose payload is then changed (role escalated): the signature no longer matches. */
export function tamperedToken(user: AuthUser): string {
  const [header, , signature] = tokenFor(user).split('.');
  return `${header}.${b64(claimsFor({ ...user, role: 'admin' }))}.${signature}`;
}

export function foreignKeyToken(user: AuthUser): string {
  const other = generateEs256KeyPair();
  return jwt.sign(claimsFor(user), other.privateKey, { algorithm: 'ES256' });
}

export function expiredToken(user: AuthUser): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign(claimsFor(user, { iat: now - 3600, exp: now - 60 }), keys.privateKey, {
    algorithm: 'ES256',
  });
}

export interface EchoRequest {
  upstream: string;
  method: string;
  url: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  bodyBytes: number;
  /** The gateway closed the connection before the stub answered (e.g. its timeout fired). */
  abandoned: boolean;
}

export interface StubUpstream {
  name: string;
  url: string;
  port: number;
  /** Every request the stub received (health probes excluded). */
  received: EchoRequest[];
  /** When set, /health/ready answers 503. */
  unhealthy: boolean;
  /** Milliseconds every non-health request waits before answering. */
  delayMs: number;
  /** Per-request delay; wins over delayMs when set (`url`: path and query). */
  delayFor?: (req: { method: string; path: string; url: string }) => number;
  /** How many `/health/ready` probes arrived, and how long each waits before answering. */
  healthProbes: number;
  healthDelayMs: number;
  /** Extra headers on product answers (`GET /api/products/:id`), and their body padding. */
  productHeaders: Record<string, string>;
  productPaddingBytes: number;
  /** Back to a healthy, prompt stub with nothing received. */
  reset(): void;
  close(): Promise<void>;
  /** Listens again on the same port after close(). */
  restart(): Promise<void>;
}

/**
 * `/__big`'s 32 MB, as one 1 MB chunk written 32 times: filling 32 MB per request blocks the
 * event loop (shared with the gateway under test) for 100-400 ms on a loaded machine, so the
 * headers would miss a short UPSTREAM_TIMEOUT_MS and the gateway rightly answer 504.
 */
const BIG_CHUNK = Buffer.alloc(1024 * 1024, 'x');
const BIG_CHUNKS = 32;

/** Resolves after `ms`, or as soon as the response is closed (the gateway gave up on it). */
function waitUnlessClosed(ms: number, res: express.Response): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    res.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A real HTTP server standing in for a service: it echoes what it received (method, path,
 * query, headers, raw body) as JSON. `/__status/<code>` (or `__status-<code>`, one segment, for
 * a route like `/api/products/:id`) answers that status in the common
 * error shape; `GET /api/products/:id` answers a product with a counter (for cache tests);
 * `/__stall` sends its headers and the start of a body, then nothing more; `/__die` sends its
 * headers and the start of a body, then resets the connection; `/__drip` sends a chunk every
 * 50 ms for 10 s (`abandoned` tells whether the gateway let go); `/__big` sends 32 MB at once
 * (`abandoned` once its connection is closed).
 */
export async function startStubUpstream(name: string): Promise<StubUpstream> {
  const stub: StubUpstream = {
    name,
    url: '',
    port: 0,
    received: [],
    unhealthy: false,
    delayMs: 0,
    healthProbes: 0,
    healthDelayMs: 0,
    productHeaders: {},
    productPaddingBytes: 0,
    reset() {
      stub.received.length = 0;
      stub.unhealthy = false;
      stub.delayMs = 0;
      stub.delayFor = undefined;
      stub.healthProbes = 0;
      stub.healthDelayMs = 0;
      stub.productHeaders = {};
      stub.productPaddingBytes = 0;
    },
    close: async () => undefined,
    restart: async () => undefined,
  };
  let served = 0;
  const app = express();
  app.set('query parser', 'extended');
  app.get('/health/ready', async (_req, res) => {
    stub.healthProbes += 1;
    if (stub.healthDelayMs > 0) await waitUnlessClosed(stub.healthDelayMs, res);
    if (stub.unhealthy) res.status(503).json({ status: 'unavailable' });
    else res.json({ status: 'ok', service: name });
  });
  app.use(express.raw({ type: () => true, limit: '10mb' }));
  app.use(async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const record: EchoRequest = {
      upstream: name,
      method: req.method,
      url: req.originalUrl,
      path: req.path,
      query: req.query as Record<string, unknown>,
      headers: req.headers,
      body: body.toString('utf8'),
      bodyBytes: body.length,
      abandoned: false,
    };
    stub.received.push(record);
    const delay =
      stub.delayFor?.({ method: req.method, path: req.path, url: req.originalUrl }) ?? stub.delayMs;
    if (delay > 0) await waitUnlessClosed(delay, res);
    if (res.destroyed || res.writableEnded || req.socket.destroyed) {
      record.abandoned = true;
      return;
    }
    if (req.path.endsWith('/__stall')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":');
      return;
    }
    if (req.path.endsWith('/__die')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":', () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    if (req.path.endsWith('/__drip')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('drop\n'), 50);
      const stop = setTimeout(() => res.end(), 10_000);
      res.once('close', () => {
        clearInterval(timer);
        clearTimeout(stop);
        record.abandoned = !res.writableFinished;
      });
      return;
    }
    if (req.path.endsWith('/__big')) {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': BIG_CHUNK.length * BIG_CHUNKS,
      });
      // The whole body may fit in the socket buffers: what shows the gateway let go is the
      // connection closing (a keep-alive connection otherwise stays open).
      req.socket.once('close', () => (record.abandoned = true));
      for (let i = 1; i < BIG_CHUNKS; i += 1) res.write(BIG_CHUNK);
      res.end(BIG_CHUNK);
      return;
    }
    const status = /\/__status[/-](\d{3})/.exec(req.path);
    if (status) {
      res
        .status(Number(status[1]))
        .json(errorBody('UPSTREAM_SAID_SO', `${name} answered ${status[1]}`, { name }, 'rid-1'));
      return;
    }
    if (req.path.startsWith('/api/products/') && req.method === 'GET') {
      served += 1;
      res.set(stub.productHeaders);
      res.json({
        id: req.path.split('/').pop(),
        name: 'Lamp',
        served,
        price: { amount: 1999 },
        ...(stub.productPaddingBytes ? { padding: 'x'.repeat(stub.productPaddingBytes) } : {}),
      });
      return;
    }
    res.setHeader('x-upstream', name);
    res.json(record);
  });

  const sockets = new Set<Socket>();
  let server: Server;
  const listen = async (port: number) => {
    server = http.createServer(app);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    stub.port = (server.address() as AddressInfo).port;
    stub.url = `http://127.0.0.1:${stub.port}`;
  };
  await listen(0);
  stub.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  stub.restart = () => listen(stub.port);
  return stub;
}

export type Stubs = Record<
  'auth' | 'product' | 'comments' | 'payment' | 'order' | 'notification',
  StubUpstream
>;

export async function startStubs(): Promise<Stubs> {
  const [auth, product, comments, payment, order, notification] = await Promise.all(
    ['auth', 'product', 'comments', 'payment', 'order', 'notification'].map((n) =>
      startStubUpstream(n),
    ),
  );
  return {
    auth: auth!,
    product: product!,
    comments: comments!,
    payment: payment!,
    order: order!,
    notification: notification!,
  };
}

export function resetStubs(stubs: Stubs): void {
  for (const stub of Object.values(stubs)) stub.reset();
}

export async function closeStubs(stubs: Stubs): Promise<void> {
  await Promise.all(Object.values(stubs).map((s) => s.close()));
}

/**
 * The stubs of a test file: started before its tests, closed after them, and each test sees
 * only the requests it caused (the stubs are filled in by the time the file's beforeAll runs).
 */
export function useStubs(): Stubs {
  const stubs = {} as Stubs;
  beforeAll(async () => {
    Object.assign(stubs, await startStubs());
  });
  afterAll(() => closeStubs(stubs));
  beforeEach(() => resetStubs(stubs));
  return stubs;
}

/** A validated gateway config pointing at the stubs; env-style overrides win. */
export function testConfig(stubs: Stubs, overrides: Record<string, string> = {}): GatewayConfig {
  return loadGatewayConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_PUBLIC_KEY: keys.publicKey,
    AUTH_SERVICE_URL: stubs.auth.url,
    PRODUCT_SERVICE_URL: stubs.product.url,
    COMMENTS_SERVICE_URL: stubs.comments.url,
    PAYMENT_SERVICE_URL: stubs.payment.url,
    ORDER_SERVICE_URL: stubs.order.url,
    NOTIFICATION_SERVICE_URL: stubs.notification.url,
    RATE_LIMIT_POINTS: '1000',
    RATE_LIMIT_AUTH_POINTS: '1000',
    RATE_LIMIT_PAYMENT_POINTS: '1000',
    UPSTREAM_TIMEOUT_MS: '2000',
    ...overrides,
  });
}

export const customer: AuthUser = { id: 'user-1', role: 'customer', email: 'c@example.com' };
export const seller: AuthUser = { id: 'seller-1', role: 'seller', email: 's@example.com' };

export function uniquePrefix(label: string): string {
  return `gwtest-${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** Serves a request listener (e.g. a gateway's handler) on a free loopback port. */
export async function serve(
  handler: RequestListener,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The connection closed before the answer was complete (or before any answer). */
  cut: boolean;
  /** No complete answer within `giveUpAfterMs`: this side closed the connection. */
  gaveUp?: boolean;
  ms: number;
}

/**
 * A request over a real socket whose body goes out in pieces with a pause between them (a slow
 * or streaming client). `finish: false` never ends the body (a client that stops sending).
 */
export function sendInPieces(
  url: string,
  options: {
    method?: string;
    path: string;
    headers?: OutgoingHttpHeaders;
    pieces?: string[];
    gapMs?: number;
    finish?: boolean;
    /** Bounds the wait, so a hanging answer fails the test instead of holding it open. */
    giveUpAfterMs?: number;
  },
): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(`${url}${options.path}`, {
      method: options.method ?? 'POST',
      headers: options.headers,
    });
    let answered: RawAnswer | undefined;
    const giveUp = setTimeout(() => {
      done({ ...(answered ?? { status: 0, headers: {}, body: '', cut: false }), gaveUp: true });
      req.destroy();
    }, options.giveUpAfterMs ?? 10_000);
    const done = (answer: Omit<RawAnswer, 'ms'>) => {
      clearTimeout(giveUp);
      resolve({ ...answer, ms: performance.now() - started });
    };
    req.on('response', (res) => {
      answered = { status: res.statusCode ?? 0, headers: res.headers, body: '', cut: false, ms: 0 };
      res.setEncoding('utf8');
      res.on('data', (d: string) => (answered!.body += d));
      res.on('end', () => done(answered!));
      res.on('error', () => done({ ...answered!, cut: true }));
      res.on('aborted', () => done({ ...answered!, cut: true }));
    });
    // The gateway may answer and close before the body is out: that is not a test failure.
    req.on('error', () => done(answered ?? { status: 0, headers: {}, body: '', cut: true }));
    const pieces = options.pieces ?? [];
    let i = 0;
    const next = () => {
      if (req.destroyed) return;
      if (i >= pieces.length) {
        if (options.finish !== false) req.end();
        return;
      }
      req.write(pieces[i++], () => setTimeout(next, options.gapMs ?? 5));
    };
    next();
  });
}

/** Writes raw bytes to a server and returns everything it answers until it closes (or `waitMs`). */
export function rawHttp(
  url: string,
  bytes: string,
  waitMs = 3000,
): Promise<{ answer: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes));
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ answer, closed: false });
    }, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closed: true });
    });
    socket.on('error', reject);
  });
}
