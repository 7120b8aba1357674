import http from 'node:http';
import request from 'supertest';
import { buildGateway, type Gateway } from '../src/app';
import { eventually } from '@ecom/test-support';
import { customer, logger, sendInPieces, serve, testConfig, tokenFor, useStubs } from './helpers';

const stubs = useStubs();
let gateway: Gateway;
const auth = `Bearer ${tokenFor(customer)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until the upstream's circuit is half-open: its next request is the trial. */
const halfOpen = (upstream: keyof Gateway['proxies']) =>
  eventually(() => gateway.proxies[upstream].replicas[0]!.breaker.halfOpen, {
    what: `${upstream}'s circuit half-open`,
  });
/** Polls `done` every 25 ms for up to 4 s (a stub's 5 s answer would not set it anyway). */
async function within4s(done: () => boolean): Promise<void> {
  for (const until = Date.now() + 4000; !done() && Date.now() < until;) await sleep(25);
}

beforeEach(() => {
  gateway = buildGateway({
    config: testConfig(stubs, {
      // Far above a healthy stub's answer on a busy machine, far below a hanging one's 5 s.
      UPSTREAM_TIMEOUT_MS: '1000',
      BREAKER_VOLUME_THRESHOLD: '3',
      BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50',
      // Long enough that the requests a test sends while the circuit is open all fit in it on
      // a busy machine; the tests wait for the half-open state itself, not a fixed sleep.
      BREAKER_RESET_TIMEOUT_MS: '2000',
    }),
    logger,
  });
});

afterEach(() => gateway.close());

async function timed(path: string) {
  const started = performance.now();
  const res = await request(gateway.handler).get(path).set('Authorization', auth);
  return { res, ms: performance.now() - started };
}

describe('a dead upstream', () => {
  it('answers 503, opens the circuit, then fails fast; recovers by itself once back', async () => {
    await stubs.order.close();
    try {
      const first = await timed('/api/orders/o1');
      expect(first.res.status).toBe(503);
      expect(first.res.body.error).toMatchObject({
        code: 'DEPENDENCY_UNAVAILABLE',
        details: { dependency: 'order', reason: 'unreachable' },
      });
      await timed('/api/orders/o1');
      await timed('/api/orders/o1');
      expect(gateway.proxies.order.replicas[0]!.breaker.opened).toBe(true);

      const open = await timed('/api/orders/o1');
      expect(open.res.status).toBe(503);
      expect(open.res.body.error.details).toEqual({ dependency: 'order', circuit: 'open' });
      expect(open.res.headers['retry-after']).toBe('2');
      // Other upstreams are unaffected.
      expect((await timed('/api/payments/p1')).res.status).toBe(200);
    } finally {
      await stubs.order.restart();
    }
    // Still open right after the restart: nothing reaches the service yet.
    expect((await timed('/api/orders/o1')).res.status).toBe(503);
    expect(stubs.order.received).toHaveLength(0);

    await halfOpen('order'); // resetTimeout: the next request is the half-open trial
    const trial = await timed('/api/orders/o1');
    expect(trial.res.status).toBe(200);
    expect(gateway.proxies.order.replicas[0]!.breaker.closed).toBe(true);
    expect((await timed('/api/orders/o2')).res.status).toBe(200);
    expect(stubs.order.received).toHaveLength(2);
  });
});

describe('a hanging upstream', () => {
  it('answers 504 after UPSTREAM_TIMEOUT_MS, then 503 at once while the circuit is open', async () => {
    stubs.product.delayMs = 5000;
    const timeouts = [];
    for (let i = 0; i < 3; i += 1) timeouts.push(await timed('/api/products/p1'));
    for (const t of timeouts) {
      expect(t.res.status).toBe(504);
      expect(t.res.body.error).toMatchObject({
        code: 'UPSTREAM_TIMEOUT',
        details: { dependency: 'product' },
      });
      expect(t.res.body.error.requestId).toBe(t.res.headers['x-request-id']);
      expect(t.ms).toBeGreaterThanOrEqual(990);
      expect(t.ms).toBeLessThan(4500); // the stub answers after 5 s
    }
    const fast = await timed('/api/products/p1');
    expect(fast.res.status).toBe(503);
    // Failing fast is not a stopwatch figure: the open circuit answers without forwarding,
    // so the hanging stub never sees the fourth request.
    expect(fast.res.body.error.details.circuit).toBe('open');
    expect(stubs.product.received).toHaveLength(3);

    stubs.product.delayMs = 0;
    await halfOpen('product');
    expect((await timed('/api/products/p1')).res.status).toBe(200);
    expect((await timed('/api/products/p2')).res.status).toBe(200);
  });

  it('a write that times out is answered as one whose outcome is unknown, with how to learn it', async () => {
    stubs.order.delayMs = 5000;
    try {
      const res = await request(gateway.handler)
        .post('/api/orders')
        .set('Authorization', auth)
        .set('Idempotency-Key', 'k-timeout-1')
        .send({ items: [] });
      expect(res.status).toBe(504);
      expect(res.body.error).toMatchObject({
        code: 'UPSTREAM_TIMEOUT',
        details: { dependency: 'order', outcome: 'unknown' },
      });
      expect(res.body.error.message).toMatch(/may still take effect.*same Idempotency-Key/);
      // A read that times out changed nothing: no such note.
      const read = await timed('/api/orders/o9');
      expect(read.res.status).toBe(504);
      expect(read.res.body.error.details).toEqual({ dependency: 'order' });
    } finally {
      stubs.order.delayMs = 0;
    }
  });

  it('a half-open trial that times out opens the circuit again', async () => {
    stubs.comments.delayMs = 5000;
    for (let i = 0; i < 3; i += 1) await timed('/api/comments/c1');
    expect(gateway.proxies.comments.replicas[0]!.breaker.opened).toBe(true);
    await halfOpen('comments');
    const trial = await timed('/api/comments/c1');
    expect(trial.res.status).toBe(504);
    expect(gateway.proxies.comments.replicas[0]!.breaker.opened).toBe(true);
    expect(stubs.comments.received).toHaveLength(4); // three timeouts and the trial
    const after = await timed('/api/comments/c1');
    expect(after.res.status).toBe(503);
    expect(after.res.body.error.details).toEqual({ dependency: 'comments', circuit: 'open' });
    expect(stubs.comments.received).toHaveLength(4);
  });
});

describe('what counts against the breaker', () => {
  it("the service's own answers never open it, whatever their status; they pass through unchanged", async () => {
    // A 503 from one route (anchoring switched off, a dependency of the service down) says
    // nothing about the service's other routes: counting it would let any client take them down.
    for (const status of [503, 502, 504, 503, 500, 400, 404, 409, 422, 503]) {
      const { res } = await timed(`/api/payments/__status/${status}`);
      expect(res.status).toBe(status);
      expect(res.body.error).toMatchObject({
        code: 'UPSTREAM_SAID_SO',
        details: { name: 'payment' },
      });
    }
    expect(gateway.proxies.payment.replicas[0]!.breaker.closed).toBe(true);
    expect((await timed('/api/payments/p1')).res.status).toBe(200);
  });

  it('a timed-out upstream request is aborted, not left running', async () => {
    stubs.product.delayMs = 5000;
    expect((await timed('/api/products/p1')).res.status).toBe(504);
    const [received] = stubs.product.received;
    await within4s(() => received!.abandoned);
    expect(received!.abandoned).toBe(true);
  });
});

describe('client faults never count against the breaker', () => {
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  /** A gateway with a short upstream timeout, a 1 kb body limit and the given client timeout. */
  async function start(clientTimeoutMs: number, more: Record<string, string> = {}) {
    await gateway.close();
    gateway = buildGateway({
      config: testConfig(stubs, {
        UPSTREAM_TIMEOUT_MS: '300',
        CLIENT_TIMEOUT_MS: String(clientTimeoutMs),
        BODY_LIMIT: '1kb',
        BREAKER_VOLUME_THRESHOLD: '3',
        BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50',
        ...more,
      }),
      logger,
    });
    server = await serve(gateway.handler);
    return server.url;
  }
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const headers = (length?: number) => ({
    authorization: auth,
    'content-type': 'text/plain',
    ...(length === undefined ? { 'transfer-encoding': 'chunked' } : { 'content-length': length }),
  });

  it("a body sent slowly: the upstream's clock starts only once the whole body is in", async () => {
    const url = await start(3000);
    // 500 ms to send the body, longer than UPSTREAM_TIMEOUT_MS: still the service's answer.
    const res = await sendInPieces(url, {
      path: '/api/orders',
      headers: headers(10),
      pieces: ['12345', '67890'],
      gapMs: 500,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).body).toBe('1234567890');
  });

  it('a body that does not arrive within CLIENT_TIMEOUT_MS: 408, and the circuit stays closed', async () => {
    const url = await start(500);
    for (let i = 0; i < 4; i += 1) {
      // Content-Length promises more than is ever sent.
      const res = await sendInPieces(url, {
        path: '/api/orders',
        headers: headers(100),
        pieces: ['only a part'],
        finish: false,
      });
      expect(res.status).toBe(408);
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body).error.code).toBe('REQUEST_TIMEOUT');
      expect(res.ms).toBeGreaterThanOrEqual(480);
    }
    expect(gateway.proxies.order.replicas[0]!.breaker.closed).toBe(true);
    expect((await timed('/api/orders/o1')).res.status).toBe(200);
  });

  it("a whole body held up on the upstream side (no free socket yet) is not the client's 408", async () => {
    const url = await start(300, {
      UPSTREAM_MAX_SOCKETS: '1',
      UPSTREAM_TIMEOUT_MS: '3000',
      BODY_LIMIT: '1mb',
    });
    // The only upstream socket is busy for 800 ms; meanwhile a client sends 200 KB at once.
    stubs.order.delayFor = ({ path }) => (path.endsWith('/busy') ? 800 : 0);
    const busy = sendInPieces(url, {
      method: 'GET',
      path: '/api/orders/busy',
      headers: { authorization: auth },
    });
    await sleep(50);
    const body = 'b'.repeat(200_000);
    const res = await sendInPieces(url, {
      path: '/api/orders',
      headers: headers(body.length),
      pieces: [body],
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).bodyBytes).toBe(body.length);
    expect((await busy).status).toBe(200);
  });

  it('streamed bodies over BODY_LIMIT: 413 each time, and the circuit stays closed', async () => {
    const url = await start(3000);
    for (let i = 0; i < 4; i += 1) {
      const res = await sendInPieces(url, {
        path: '/api/orders',
        headers: headers(),
        pieces: ['z'.repeat(600), 'z'.repeat(600), 'z'.repeat(600)],
      });
      expect(res.status).toBe(413);
    }
    expect(gateway.proxies.order.replicas[0]!.breaker.closed).toBe(true);
    expect((await timed('/api/orders/o1')).res.status).toBe(200);
  });
});

describe('response bodies', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeEach(async () => {
    await gateway.close();
    gateway = buildGateway({
      config: testConfig(stubs, { UPSTREAM_TIMEOUT_MS: '5000', CLIENT_TIMEOUT_MS: '600' }),
      logger,
    });
    server = await serve(gateway.handler);
  });
  afterEach(() => server.close());

  it('an upstream that dies mid-body: the client connection is cut at once, and counted as aborted', async () => {
    const res = await sendInPieces(server.url, {
      method: 'GET',
      path: '/api/orders/__die',
      headers: { authorization: auth },
      giveUpAfterMs: 8000,
    });
    expect(res.status).toBe(200);
    expect(res.cut).toBe(true);
    expect(res.gaveUp).toBeUndefined();
    expect(res.ms).toBeLessThan(4500); // UPSTREAM_TIMEOUT_MS is 5 s: not the stall timer
    const metrics = (await request(gateway.handler).get('/metrics')).text;
    expect(metrics).toMatch(
      /gateway_requests_total\{[^}]*upstream="order"[^}]*status="aborted"[^}]*\} 1/,
    );
  });

  it('a client that leaves mid-body releases the upstream at once', async () => {
    await new Promise<void>((resolve) => {
      const req = http.get(`${server.url}/api/orders/__drip`, { headers: { authorization: auth } });
      req.on('response', (res) =>
        res.once('data', () => setTimeout(() => (req.destroy(), resolve()), 100)),
      );
    });
    const [drip] = stubs.order.received;
    await within4s(() => drip!.abandoned);
    expect(drip!.abandoned).toBe(true); // well before UPSTREAM_TIMEOUT_MS (5 s)
  });

  it('a client that stops reading is cut after CLIENT_TIMEOUT_MS, the upstream socket freed', async () => {
    gateway.close();
    gateway = buildGateway({
      config: testConfig(stubs, { UPSTREAM_TIMEOUT_MS: '200', CLIENT_TIMEOUT_MS: '600' }),
      logger,
    });
    await server.close();
    server = await serve(gateway.handler);
    const started = performance.now();
    // Reads the headers, then nothing: 32 MB cannot fit in the socket buffers. (A client that
    // does not read cannot see its connection close either, so the upstream side is watched.)
    const req = http.get(`${server.url}/api/orders/__big`, { headers: { authorization: auth } });
    let status: number | undefined;
    req.on('response', (res) => {
      status = res.statusCode;
      res.pause();
    });
    req.on('error', () => undefined);
    try {
      const big = () => stubs.order.received.find((r) => r.path.endsWith('/__big'));
      while (!big()?.abandoned && performance.now() - started < 8000) await sleep(25);
      const freedAfter = performance.now() - started;
      // The headers came through (a 504 would mean the header deadline, not the body watch).
      expect(status).toBe(200);
      expect(big()?.abandoned).toBe(true);
      // Freed (abandoned, within the 8 s watch), and not before CLIENT_TIMEOUT_MS.
      expect(freedAfter).toBeGreaterThanOrEqual(550);
    } finally {
      req.destroy();
    }
  });
});

describe('an upstream that stalls after its headers', () => {
  it('has the client connection cut after UPSTREAM_TIMEOUT_MS of silence', async () => {
    const server = await serve(gateway.handler);
    try {
      const res = await sendInPieces(server.url, {
        method: 'GET',
        path: '/api/orders/__stall',
        headers: { authorization: auth },
        giveUpAfterMs: 8000,
      });
      expect(res.status).toBe(200); // the status was already out
      expect(res.gaveUp).toBeUndefined(); // cut by the gateway, within the 8 s watch
      expect(res.cut).toBe(true);
      expect(res.body).toBe('{"partial":');
      expect(res.ms).toBeGreaterThanOrEqual(990);
      expect(res.ms).toBeLessThan(4500); // cut by UPSTREAM_TIMEOUT_MS, not the 8 s watch
    } finally {
      await server.close();
    }
  });
});
