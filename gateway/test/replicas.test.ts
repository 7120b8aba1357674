import request from 'supertest';
import { ConfigError } from '@ecom/common/config';
import { eventually } from '@ecom/test-support';
import { buildGateway, type Gateway } from '../src/app';
import { loadGatewayConfig } from '../src/config';
import type { UpstreamHealth } from '../src/health';
import {
  keys,
  logger,
  seller,
  sendInPieces,
  serve,
  startStubUpstream,
  testConfig,
  tokenFor,
  useStubs,
  type StubUpstream,
} from './helpers';

const stubs = useStubs();
const auth = `Bearer ${tokenFor(seller)}`;
/** Two replicas of the product service (the other upstreams are the shared stubs). */
let a: StubUpstream;
let b: StubUpstream;
let gateway: Gateway;

function build(overrides: Record<string, string> = {}) {
  gateway = buildGateway({
    config: testConfig(stubs, {
      PRODUCT_SERVICE_URL: `${a.url},${b.url}`,
      // Far above a healthy stub's answer on a busy machine, far below a hanging one's 10 s.
      UPSTREAM_TIMEOUT_MS: '1000',
      BREAKER_VOLUME_THRESHOLD: '3',
      BREAKER_RESET_TIMEOUT_MS: '60000',
      // Frequent checks keep the test short; every wait below polls, none assumes a speed.
      UPSTREAM_HEALTH_INTERVAL_MS: '100',
      HEALTH_CACHE_MS: '0',
      ...overrides,
    }),
    logger,
  });
  return gateway;
}

beforeEach(async () => {
  [a, b] = await Promise.all([startStubUpstream('product-a'), startStubUpstream('product-b')]);
});
afterEach(async () => {
  await gateway?.close();
  await Promise.all([a.close(), b.close()]);
});

const create = (name: string) =>
  request(gateway.handler).post('/api/products').set('Authorization', auth).send({ name });

async function productHealth(): Promise<UpstreamHealth> {
  const res = await request(gateway.handler).get('/health');
  return (res.body as { upstreams: Record<string, UpstreamHealth> }).upstreams.product!;
}

async function healthyReplicasMetric(): Promise<number> {
  const res = await request(gateway.handler).get('/metrics');
  const line = /^gateway_upstream_healthy_replicas\{[^}]*upstream="product"[^}]*\} (\d+)$/m.exec(
    res.text,
  );
  return Number(line?.[1]);
}

describe('an upstream with two replicas', () => {
  it('takes turns between them while they are idle', async () => {
    build();
    for (let i = 0; i < 10; i += 1) expect((await create(`p${i}`)).status).toBe(200);
    expect(a.received).toHaveLength(5);
    expect(b.received).toHaveLength(5);
  });

  it('sends a request whose connection was refused to the other replica, body and all', async () => {
    // Checks too rare to notice the stop first: the first request for b finds it closed.
    build({ UPSTREAM_HEALTH_INTERVAL_MS: '60000' });
    await b.close();
    const names = ['first', 'second', 'third'];
    for (const name of names) {
      const res = await create(name);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ upstream: 'product-a', body: JSON.stringify({ name }) });
    }
    // One of the first two was b's turn: refused, then sent once to a.
    expect(a.received.map((r) => JSON.parse(r.body) as { name: string })).toEqual(
      names.map((name) => ({ name })),
    );
    expect(gateway.proxies.product.balancer.status()[1]!.ejections).toBeGreaterThanOrEqual(1);
  });

  it('replays a streamed (chunked) body on the other replica', async () => {
    build({ UPSTREAM_HEALTH_INTERVAL_MS: '60000' });
    const edge = await serve(gateway.handler);
    try {
      await b.close();
      const pieces = ['{"name":', '"streamed', ' lamp"}'];
      for (let i = 0; i < 2; i += 1) {
        const answer = await sendInPieces(edge.url, {
          path: '/api/products',
          headers: { authorization: auth, 'content-type': 'application/json' },
          pieces,
        });
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body)).toMatchObject({
          upstream: 'product-a',
          body: pieces.join(''),
          headers: { 'transfer-encoding': 'chunked' },
        });
      }
      expect(a.received).toHaveLength(2);
      expect(gateway.proxies.product.balancer.status()[1]!.ejections).toBeGreaterThanOrEqual(1);
    } finally {
      await edge.close();
    }
  });

  it('leaves a stopped replica out once its check fails, and takes it back once it answers', async () => {
    build();
    await b.close();
    const down = await eventually(
      async () => {
        const health = await productHealth();
        return health.replicas[1]!.state === 'unhealthy' ? health : undefined;
      },
      { what: 'replica b unhealthy' },
    );
    expect(down).toMatchObject({ status: 'up', healthyReplicas: 1, circuit: 'closed' });
    expect(down.replicas[1]).toMatchObject({ url: b.url, status: 'down' });
    expect(await healthyReplicasMetric()).toBe(1);
    for (let i = 0; i < 6; i += 1) expect((await create(`p${i}`)).status).toBe(200);
    expect(gateway.proxies.product.balancer.status()[1]!.ejections).toBe(0); // never tried

    await b.restart();
    await eventually(async () => (await create('again')).status === 200 && b.received.length > 0, {
      what: 'replica b back in rotation',
    });
    expect(await healthyReplicasMetric()).toBe(2);
  });

  it('stops sending to a draining replica (readiness 503) and resumes once it is ready', async () => {
    build();
    b.unhealthy = true;
    await eventually(async () => (await productHealth()).replicas[1]!.state === 'unhealthy', {
      what: 'replica b out',
    });
    b.received.length = 0;
    for (let i = 0; i < 6; i += 1) expect((await create(`p${i}`)).status).toBe(200);
    expect(b.received).toHaveLength(0);

    b.unhealthy = false;
    await eventually(async () => (await create('again')).status === 200 && b.received.length > 0, {
      what: 'replica b back in rotation',
    });
  });

  it('uses every replica when none passes its check (panic), rather than none', async () => {
    build();
    a.unhealthy = true;
    b.unhealthy = true;
    await eventually(async () => (await productHealth()).healthyReplicas === 0, {
      what: 'no healthy replica',
    });
    a.received.length = 0;
    b.received.length = 0;
    for (let i = 0; i < 6; i += 1) expect((await create(`p${i}`)).status).toBe(200);
    expect(a.received.length).toBeGreaterThan(0);
    expect(b.received.length).toBeGreaterThan(0);
  });

  it('ejects a replica that does not answer in time; the other serves, the circuit stays closed', async () => {
    build({ UPSTREAM_HEALTH_INTERVAL_MS: '60000' });
    b.delayMs = 10_000;
    const answers: number[] = [];
    for (let i = 0; i < 6; i += 1) answers.push((await create(`p${i}`)).status);
    // A request sent to b may have reached it: answered 504, never sent again. Ejected after
    // each, b gets at most one request per cool-off (1 s, then 2 s): a takes the rest.
    const timedOut = answers.filter((s) => s === 504).length;
    expect(timedOut).toBeGreaterThanOrEqual(1);
    expect(b.received).toHaveLength(timedOut);
    expect(a.received).toHaveLength(answers.filter((s) => s === 200).length);
    expect(a.received.length).toBeGreaterThanOrEqual(3);
    expect(gateway.proxies.product.balancer.status()[1]!.ejections).toBeGreaterThanOrEqual(1);
    expect((await productHealth()).circuit).toBe('closed');
  });

  it('answers 503 in the common shape when every replica refuses the connection', async () => {
    build({ UPSTREAM_HEALTH_INTERVAL_MS: '60000' });
    await Promise.all([a.close(), b.close()]);
    const res = await create('nowhere');
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({
      code: 'DEPENDENCY_UNAVAILABLE',
      details: { dependency: 'product', reason: 'unreachable' },
    });
    const states = gateway.proxies.product.balancer.status();
    expect(states.map((s) => s.ejections)).toEqual([1, 1]);
  });

  it('does not check a single replica itself (an orchestrator does)', async () => {
    build({ PRODUCT_SERVICE_URL: a.url, ORDER_SERVICE_URL: `${b.url},${stubs.order.url}` });
    // Waits for checks of the two-replica upstream, so the single one had time for several.
    await eventually(() => b.healthProbes >= 3, { what: 'order replicas checked' });
    expect(a.healthProbes).toBe(0);
  });
});

describe('*_SERVICE_URL lists', () => {
  const env = (value: string) => ({
    JWT_PUBLIC_KEY: keys.publicKey,
    PRODUCT_SERVICE_URL: value,
  });

  it('reads one base URL per replica', () => {
    expect(
      loadGatewayConfig(env('http://10.0.0.1:3002, http://10.0.0.2:3002/')).PRODUCT_SERVICE_URL,
    ).toEqual(['http://10.0.0.1:3002', 'http://10.0.0.2:3002']);
  });

  it.each([
    ['an item that is not a URL', 'http://a:3002,not a url', /item 2 .*is not a URL/],
    ['an empty item', 'http://a:3002,,http://b:3002', /item 2 is empty/],
    ['a duplicate', 'http://a:3002,http://A:3002/', /item 2 .*is listed twice/],
    ['another scheme', 'ftp://a:3002', /not an http\(s\) URL/],
  ])('refuses %s naming the variable', (_label, value, message) => {
    let error: unknown;
    try {
      loadGatewayConfig(env(value));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('PRODUCT_SERVICE_URL');
    expect((error as Error).message).toMatch(message);
  });
});
