import http from 'node:http';
import net from 'node:net';
import { loadGatewayConfig } from '../src/config';
import { gatewayService, type RunningGateway } from '../src/service';
import { keys, logger, testConfig, useStubs } from './helpers';

/**
 * Per client connection: at most MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION pipelined requests
 * dispatched, and a connection that leaves its answers unread is cut after CLIENT_TIMEOUT_MS.
 * Real sockets on loopback against the listening gateway (the server the service kit creates).
 */

const stubs = useStubs();
const BOUND = 4;
let gw: RunningGateway | undefined;

async function startGateway(overrides: Record<string, string> = {}): Promise<RunningGateway> {
  gw = await gatewayService.start({
    config: testConfig(stubs, {
      MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION: String(BOUND),
      ...overrides,
    }),
    logger,
  });
  return gw;
}

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` holds or `withinMs` passed (generous: never a claim about speed). */
async function eventually(done: () => boolean | Promise<boolean>, withinMs = 15_000) {
  const started = performance.now();
  while (!(await done()) && performance.now() - started < withinMs) await sleep(25);
}

const openConnections = (server: http.Server) =>
  new Promise<number>((resolve, reject) =>
    server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
  );

/** The gateway's count of client connections it closed for `reason`. */
async function closedFor(reason: 'pipelining' | 'stalled'): Promise<number> {
  const metric = await gw!.gateway.metrics.registry
    .getSingleMetric('gateway_client_connections_closed_total')!
    .get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: gateway.test\r\n\r\n`;

interface Answer {
  status: number;
  body: Buffer;
}

/** The complete answers (Content-Length framed, as the gateway sends these) at the start of `data`. */
function parseAnswers(data: Buffer): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return answers;
    const head = data.subarray(at, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    if (!Number.isInteger(length)) throw new Error(`no Content-Length in ${head}`);
    if (data.length < end + 4 + length) return answers;
    answers.push({ status, body: data.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
}

/** A raw connection that writes requests in one write and collects what comes back. */
function connect(url: string, { read = true } = {}) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  /** `pauseAt`: stop reading once that many bytes came (a client reading in bursts). */
  const state = { ended: false, closed: false, bytes: 0, pauseAt: Infinity };
  if (!read) socket.pause();
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    state.bytes += chunk.length;
    if (state.bytes >= state.pauseAt) socket.pause();
  });
  socket.on('end', () => (state.ended = true));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  return {
    socket,
    state,
    send: (requests: string[]) => socket.write(requests.join('')),
    answers: () => parseAnswers(Buffer.concat(chunks)),
  };
}

it('MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION is small by default', () => {
  const config = loadGatewayConfig({ JWT_PUBLIC_KEY: keys.publicKey });
  expect(config.MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION).toBe(8);
});

describe('a connection pipelining more requests than the bound', () => {
  it('a few more in one write: the bound is dispatched and answered, then the connection is closed', async () => {
    const { url } = await startGateway();
    stubs.product.delayMs = 200; // the first ones are still in flight when the rest arrive
    const client = connect(url);
    client.send(Array.from({ length: BOUND + 2 }, (_, i) => get(`/api/products?limit=100&i=${i}`)));
    try {
      await eventually(() => client.state.closed);
      expect(client.state.closed).toBe(true);
      expect(client.state.ended).toBe(true); // closed after the answers (FIN), not reset
      // The first BOUND answered in full, none refused with an error status; the rest never
      // went upstream (a client retries requests its closed connection left unanswered).
      const answers = client.answers();
      expect(answers.map((a) => a.status)).toEqual(Array(BOUND).fill(200));
      expect(answers.map((a) => JSON.parse(a.body.toString()).query.i)).toEqual([
        '0',
        '1',
        '2',
        '3',
      ]);
      // (Over several upstream connections: they may arrive in any order.)
      expect(stubs.product.received.map((r) => r.query.i).sort()).toEqual(['0', '1', '2', '3']);
      expect(await closedFor('pipelining')).toBe(1);
    } finally {
      client.socket.destroy();
    }
  });

  it('many in one write (150, as a flood): at most the bound reaches the upstream, the connection is closed', async () => {
    const { url, server } = await startGateway();
    stubs.product.delayMs = 200;
    const clients = [connect(url), connect(url), connect(url)];
    for (const client of clients) {
      client.send(Array.from({ length: 150 }, (_, i) => get(`/api/products?limit=100&i=${i}`)));
    }
    try {
      await eventually(() => clients.every((c) => c.state.closed));
      for (const client of clients) expect(client.state.closed).toBe(true);
      await eventually(async () => (await openConnections(server)) === 0);
      expect(await openConnections(server)).toBe(0);
      await sleep(300); // anything dispatched would have reached the stub by now
      expect(stubs.product.received.length).toBeLessThanOrEqual(BOUND * clients.length);
      for (const client of clients) {
        expect(client.answers().length).toBeLessThanOrEqual(BOUND);
        for (const answer of client.answers()) expect(answer.status).toBe(200);
      }
      expect(await closedFor('pipelining')).toBe(clients.length);
    } finally {
      for (const client of clients) client.socket.destroy();
    }
  });
});

describe('honest clients are unaffected', () => {
  it('sequential keep-alive requests, many more than the bound, on one connection', async () => {
    const { url, server } = await startGateway();
    let connections = 0;
    server.on('connection', () => (connections += 1));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 30; i += 1) {
        const status = await new Promise<number | undefined>((resolve, reject) => {
          http
            .get(`${url}/api/products?limit=100&i=${i}`, { agent }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode));
            })
            .setTimeout(5000, function (this: http.ClientRequest) {
              this.destroy(new Error('no answer'));
            })
            .on('error', reject);
        });
        expect(status).toBe(200);
      }
      expect(connections).toBe(1);
      expect(stubs.product.received).toHaveLength(30);
    } finally {
      agent.destroy();
    }
  });

  it('pipelining up to the bound at a time: every request answered, the connection kept', async () => {
    const { url } = await startGateway();
    const client = connect(url);
    try {
      for (let wave = 0; wave < 3; wave += 1) {
        client.send(Array.from({ length: BOUND }, (_, i) => get(`/api/products?w=${wave}&i=${i}`)));
        await eventually(() => client.answers().length === (wave + 1) * BOUND);
      }
      expect(client.answers().map((a) => a.status)).toEqual(Array(3 * BOUND).fill(200));
      expect(client.state.closed).toBe(false);
      expect(stubs.product.received).toHaveLength(3 * BOUND);
    } finally {
      client.socket.destroy();
    }
  });

  it('a long download that a slow client keeps reading is not cut by CLIENT_TIMEOUT_MS', async () => {
    const { url } = await startGateway({ CLIENT_TIMEOUT_MS: '1500' });
    stubs.product.productPaddingBytes = 16 * 1024 * 1024; // more than the socket buffers hold
    const client = connect(url, { read: false });
    client.send([get('/api/products/p1')]);
    try {
      // Bursts of 1 MB with pauses shorter than the timeout: several timeouts long in all.
      const started = performance.now();
      while (!client.state.closed && client.answers().length === 0) {
        client.state.pauseAt = client.state.bytes + 1024 * 1024;
        client.socket.resume();
        await eventually(
          () => client.socket.isPaused() || client.state.closed || client.answers().length > 0,
        );
        if (client.answers().length === 0) await sleep(200);
      }
      expect(client.state.closed).toBe(false);
      expect(client.answers().map((a) => a.status)).toEqual([200]);
      expect(client.answers()[0]!.body.length).toBeGreaterThan(16 * 1024 * 1024);
      expect(performance.now() - started).toBeGreaterThan(1500); // the timeout did pass meanwhile
    } finally {
      client.socket.destroy();
    }
  });
});

describe('a client that pipelines and never reads', () => {
  it('is disconnected after CLIENT_TIMEOUT_MS, every upstream answer it held released', async () => {
    // UPSTREAM_TIMEOUT_MS long: what cuts the connection is the client's clock alone.
    const { url, server } = await startGateway({
      CLIENT_TIMEOUT_MS: '1000',
      UPSTREAM_TIMEOUT_MS: '60000',
    });
    // 32 MB answers (the stub's /__big), far more than the socket buffers take. The first is
    // written until the kernel takes no more, the second waits behind it; the upstream answers
    // the last two only once the connection is gone.
    stubs.product.delayFor = ({ url }) => (/i=[01]$/.test(url) ? 0 : 5000);
    const client = connect(url, { read: false });
    client.send(Array.from({ length: BOUND }, (_, i) => get(`/api/products/__big?i=${i}`)));
    const big = () => stubs.product.received.filter((r) => r.path.endsWith('/__big'));
    try {
      await eventually(() => big().length === BOUND);
      expect(big()).toHaveLength(BOUND);
      await eventually(async () => (await openConnections(server)) === 0);
      expect(await openConnections(server)).toBe(0);
      // Not only the answer being written: the one queued behind it, and those the upstream
      // sends after the cut, let their upstream connections go too.
      await eventually(() => big().every((r) => r.abandoned));
      expect(big().map((r) => r.abandoned)).toEqual(Array(BOUND).fill(true));
      expect(await closedFor('stalled')).toBe(1);
      // Reading now: what the kernel already held, then the end; never a whole answer.
      client.socket.resume();
      await eventually(() => client.state.closed);
      expect(client.state.closed).toBe(true);
      expect(client.answers()).toHaveLength(0);
    } finally {
      client.socket.destroy();
    }
  });
});
