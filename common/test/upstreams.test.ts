import { createServer } from 'node:http';
import Joi from 'joi';
import { eventually, freePort, sendJson, startHttpStub } from '@ecom/test-support';
import {
  createServiceClient,
  createUpstreamSet,
  neverConnected,
  type ServiceClient,
  type UpstreamSet,
} from '../src/client';
import { ConfigError, loadConfig, MAX_SERVICE_URLS, serviceUrls } from '../src/config';

/** A replica: answers its readiness as `ready` says, and echoes which replica it is. */
async function replica(name: string) {
  const state = { ready: true, status: 200, probes: 0 };
  const stub = await startHttpStub((req, res) => {
    if (req.url === '/health/ready') {
      state.probes += 1;
      sendJson(res, state.ready ? 200 : 503, { status: state.ready ? 'ok' : 'unavailable' });
      return;
    }
    sendJson(res, state.status, { replica: name });
  });
  const served = () => stub.calls.filter((c) => c.url !== '/health/ready');
  return { stub, state, served, url: stub.url };
}

const closing: { close(): unknown }[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((c) => c.close()));
});
function track<T extends { close(): unknown }>(thing: T): T {
  closing.push(thing);
  return thing;
}

/** A set with quick checks and cool-offs (the waits below poll; none assumes a speed). */
function set(urls: string[], overrides: Partial<Parameters<typeof createUpstreamSet>[0]> = {}) {
  return track(
    createUpstreamSet({
      name: 'product',
      urls,
      probeIntervalMs: 50,
      probeTimeoutMs: 1000,
      ejectBaseMs: 200,
      ...overrides,
    }),
  );
}

const stateOf = (s: UpstreamSet, i: number) => s.status()[i]!.state;

describe('upstream set', () => {
  it('takes turns while idle and prefers the replica with fewer requests in flight', async () => {
    const s = set(['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3']);
    const turns = Array.from({ length: 6 }, () => s.pick()!.url);
    expect(turns).toEqual([...s.replicas.map((r) => r.url), ...s.replicas.map((r) => r.url)]);
    // Two requests held on the first two: the third takes every new one.
    const done = [s.begin(s.replicas[0]!), s.begin(s.replicas[1]!)];
    expect(new Set(Array.from({ length: 4 }, () => s.pick()!.url))).toEqual(
      new Set([s.replicas[2]!.url]),
    );
    done.forEach((d) => d());
    expect(s.status().map((r) => r.inFlight)).toEqual([0, 0, 0]);
  });

  it('ejects a replica after a failed connection until its cool-off is over; a success resets the count', async () => {
    const s = set(['http://127.0.0.1:1', 'http://127.0.0.1:2'], { probeIntervalMs: 60_000 });
    const [first, second] = s.replicas;
    s.failed(first!, 'ECONNREFUSED');
    expect(stateOf(s, 0)).toBe('ejected');
    expect(new Set([s.pick()!, s.pick()!, s.pick()!])).toEqual(new Set([second]));
    await eventually(() => stateOf(s, 0) === 'healthy', { what: 'cool-off over' });
    s.failed(first!, 'ECONNREFUSED');
    expect(s.status()[0]).toMatchObject({ state: 'ejected', ejections: 2 });
    await eventually(() => stateOf(s, 0) === 'healthy', { what: 'second cool-off over' });
    s.succeeded(first!);
    expect(s.status()[0]!.ejections).toBe(0);
  });

  it('leaves out a replica whose readiness check fails and takes it back when it passes', async () => {
    const [a, b] = await Promise.all([replica('a'), replica('b')]);
    track(a.stub);
    track(b.stub);
    const s = set([a.url, b.url]);
    b.state.ready = false;
    await eventually(() => stateOf(s, 1) === 'unhealthy', { what: 'b unhealthy' });
    expect(s.status()[1]!.lastCheck).toMatchObject({ ok: false, status: 503 });
    expect(new Set(Array.from({ length: 4 }, () => s.pick()!.url))).toEqual(new Set([a.url]));
    expect(s.healthyCount()).toBe(1);
    b.state.ready = true;
    await eventually(() => stateOf(s, 1) === 'healthy', { what: 'b back' });
    expect(new Set(Array.from({ length: 4 }, () => s.pick()!.url))).toEqual(
      new Set([a.url, b.url]),
    );
  });

  it('notices a stopped replica (connection refused) and takes it back once it listens again', async () => {
    const a = await replica('a');
    track(a.stub);
    const port = await freePort();
    const s = set([a.url, `http://127.0.0.1:${port}`]);
    await eventually(() => stateOf(s, 1) === 'unhealthy', { what: 'nothing listening' });
    expect(s.status()[1]!.lastCheck?.error).toBe('ECONNREFUSED');
    const revived = createServer((_req, res) => sendJson(res, 200, { status: 'ok' }));
    await new Promise<void>((resolve) => revived.listen(port, '127.0.0.1', resolve));
    track({
      close: () =>
        new Promise((resolve) => {
          revived.close(resolve);
          revived.closeAllConnections();
        }),
    });
    await eventually(() => stateOf(s, 1) === 'healthy', { what: 'listening again' });
  });

  it('uses every replica when none looks healthy (panic), rather than none', async () => {
    const [a, b] = await Promise.all([replica('a'), replica('b')]);
    track(a.stub);
    track(b.stub);
    const s = set([a.url, b.url]);
    a.state.ready = false;
    b.state.ready = false;
    await eventually(() => s.healthyCount() === 0, { what: 'none healthy' });
    expect(new Set(Array.from({ length: 4 }, () => s.pick()!.url))).toEqual(
      new Set([a.url, b.url]),
    );
    // Only `usable` can exclude all: a caller that has tried every replica gets none.
    expect(s.pick(() => false)).toBeUndefined();
  });

  it('does not check a single URL (its orchestrator does), and stops checking on close', async () => {
    const [single, x, y] = await Promise.all([replica('single'), replica('x'), replica('y')]);
    [single, x, y].forEach((r) => track(r.stub));
    set([single.url]);
    const pair = set([x.url, y.url]);
    await eventually(() => x.state.probes >= 3, { what: 'the pair checked' });
    expect(single.state.probes).toBe(0);

    pair.close();
    const atClose = x.state.probes;
    // Another set still checking shows time passed for several rounds.
    const witness = set([y.url, single.url]);
    await eventually(() => single.state.probes >= 3, { what: 'the witness checked' });
    expect(x.state.probes - atClose).toBeLessThanOrEqual(1); // at most a round already started
    witness.close();
  });
});

describe('service client over replicas', () => {
  let a: Awaited<ReturnType<typeof replica>>;
  let b: Awaited<ReturnType<typeof replica>>;
  beforeEach(async () => {
    [a, b] = await Promise.all([replica('a'), replica('b')]);
    track(a.stub);
    track(b.stub);
  });
  const client = (urls: string[]): ServiceClient =>
    track(
      createServiceClient({
        name: 'product',
        baseUrl: urls,
        retries: 1,
        retryDelayMs: 1,
        replicas: { probeIntervalMs: 60_000, ejectBaseMs: 60_000 },
      }),
    );

  it('spreads calls over the replicas', async () => {
    const c = client([a.url, b.url]);
    for (let i = 0; i < 4; i += 1) expect((await c.get('/api/x')).status).toBe(200);
    expect(a.served()).toHaveLength(2);
    expect(b.served()).toHaveLength(2);
  });

  it('moves a call whose connection was refused to another replica, whatever the method', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const c = client([dead, a.url]);
    const answers = [];
    for (let i = 0; i < 3; i += 1) {
      answers.push(await c.request('/api/orders', { method: 'POST', body: { i } }));
    }
    expect(answers.map((r) => r.body)).toEqual([
      { replica: 'a' },
      { replica: 'a' },
      { replica: 'a' },
    ]);
    expect(a.served().map((call) => call.method)).toEqual(['POST', 'POST', 'POST']);
    // Refused once, then left out for its cool-off.
    expect(c.upstreams.status()[0]).toMatchObject({ state: 'ejected', ejections: 1 });
  });

  it('retries an idempotent call that failed on one replica on the other', async () => {
    a.state.status = 500;
    const c = client([a.url, b.url]);
    const res = await c.get('/api/x'); // a's turn first
    expect(res.body).toEqual({ replica: 'b' });
    expect(a.served()).toHaveLength(1);
  });

  it('never sends a non-idempotent call twice once a replica received it', async () => {
    a.state.status = 500;
    const c = client([a.url, b.url]);
    await expect(c.request('/api/orders', { method: 'POST', body: {} })).rejects.toMatchObject({
      status: 503,
    });
    expect(a.served()).toHaveLength(1);
    expect(b.served()).toHaveLength(0);
  });
});

describe('neverConnected', () => {
  it('recognises a refused connection as fetch reports it, and nothing else', async () => {
    const refused = await fetch(`http://127.0.0.1:${await freePort()}/`).catch((e: unknown) => e);
    expect(neverConnected(refused)).toBe(true);
    expect(neverConnected(new Error('socket hang up'))).toBe(false);
    expect(neverConnected(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
  });
});

describe('serviceUrls (the *_SERVICE_URL validator)', () => {
  const schema = Joi.object({ PRODUCT_SERVICE_URL: serviceUrls('http://127.0.0.1:3002') });
  const load = (value?: string) =>
    loadConfig(schema, value === undefined ? {} : { PRODUCT_SERVICE_URL: value })
      .PRODUCT_SERVICE_URL as string[];

  it('reads one URL or a list, normalised, with the default as a list of one', () => {
    expect(load()).toEqual(['http://127.0.0.1:3002']);
    expect(load('https://Product.example:8443/')).toEqual(['https://product.example:8443']);
    expect(load(' http://a:3002 ,http://b:3002/base/ ')).toEqual([
      'http://a:3002',
      'http://b:3002/base',
    ]);
  });

  it.each([
    ['not a URL', 'http://a:3002,nope', 'item 2 ("nope") is not a URL'],
    ['empty item', 'http://a:3002,', 'item 2 is empty'],
    ['duplicate', 'http://a:3002,http://A:3002/', 'item 2 ("http://A:3002/") is listed twice'],
    ['other scheme', 'ftp://a', 'the URL ("ftp://a") is not an http(s) URL'],
    ['query', 'http://a:3002/?x=1', 'the URL has credentials, a query or a fragment'],
    [
      'too many',
      Array.from({ length: MAX_SERVICE_URLS + 1 }, (_, i) => `http://h${i}:1`).join(','),
      `at most ${MAX_SERVICE_URLS}`,
    ],
  ])('refuses %s with a ConfigError naming the variable', (_label, value, message) => {
    let error: unknown;
    try {
      load(value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('PRODUCT_SERVICE_URL');
    expect((error as Error).message).toContain(message);
  });

  it('does not echo credentials', () => {
    expect(() => load('http://user:s3cret@a:3002')).toThrow(ConfigError);
    expect(() => load('http://user:s3cret@a:3002')).not.toThrow(/s3cret/);
  });
});
