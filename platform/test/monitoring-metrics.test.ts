import fs from 'node:fs';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until, untilOrderStatus } from './gateway-client';
import {
  documentedMetrics,
  documentedTypes,
  exposedFamilies,
  familyOf,
  metricNames,
  monitoringQueries,
  sampleValue,
} from './monitoring-support';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

// The shipped dashboards and alerts against a started platform: every metric they query is
// one some process really exports, after an order has gone through the saga.
const ports = platformPorts(28000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;
const TOKEN = 'monitoring-test-token';

jest.setTimeout(180_000);

const api = gatewayClient(gateway);

async function scrape(port: number, token: string | null = TOKEN) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, text: await res.text() };
}

describe('dashboards and alerts query what the services export', () => {
  let platform: Platform;
  let dataDir: string;
  /** Each process's exposition, by service name, after the order. */
  const scraped: Record<string, string> = {};

  beforeAll(async () => {
    dataDir = tempDataDir('monitoring');
    platform = await startPlatform({
      // The gateway's product read cache on, so its hits are counted.
      env: embeddedEnv(dataDir, { METRICS_TOKEN: TOKEN, GATEWAY_CACHE_TTL_MS: '5000' }),
      ports,
      print: () => undefined,
    });

    const reg = await api<{ accessToken: string }>('POST', '/api/auth/register', {
      email: `metrics-${Date.now()}@example.com`,
      password: 'Metrics#test2026',
      name: 'Metrics Tester',
    });
    expect(reg.status).toBe(201);
    const token = reg.body.accessToken;
    const list = await api<{ items: { id: string }[] }>('GET', '/api/products?limit=5');
    const productId = list.body.items[0]!.id;
    // Twice: the second read is a cache hit.
    await api('GET', `/api/products/${productId}`);
    await api('GET', `/api/products/${productId}`);
    const order = await api<{ id: string }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId, quantity: 1 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Metrics'),
      },
      token,
    );
    expect(order.status).toBe(201);
    const confirmed = await untilOrderStatus(api, order.body.id, token, 'CONFIRMED');
    expect(confirmed.body.status).toBe('CONFIRMED');
    // The order's entries reach the chain: a batch is counted once it is confirmed.
    await until(
      () => scrape(ports.services.order),
      (r) => (sampleValue(r.text, 'anchoring_batches_total') ?? 0) > 0,
    );
    for (const [name, port] of Object.entries(ports.services)) {
      const res = await scrape(port);
      expect({ name, status: res.status }).toEqual({ name, status: 200 });
      scraped[name] = res.text;
    }
  });

  afterAll(async () => {
    await platform?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves /metrics only with the metrics token', async () => {
    for (const [name, port] of Object.entries(ports.services)) {
      expect({ name, status: (await scrape(port, null)).status }).toEqual({ name, status: 401 });
      expect({ name, status: (await scrape(port, 'wrong')).status }).toEqual({ name, status: 401 });
    }
  });

  it('every metric a dashboard panel, a dashboard variable or an alert names is exported', () => {
    const families = new Set(Object.values(scraped).flatMap((t) => [...exposedFamilies(t).keys()]));
    // `up` is written by Prometheus itself for each target, not exported.
    const missing = monitoringQueries().flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => name !== 'up' && !familyOf(name, families))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('every metric they name is documented in docs/metrics.md', () => {
    const documented = documentedMetrics();
    const used = new Set(monitoringQueries().flatMap(({ expr }) => metricNames(expr)));
    const families = new Set(Object.values(scraped).flatMap((t) => [...exposedFamilies(t).keys()]));
    const undocumented = [...used]
      .map((n) => familyOf(n, families) ?? n)
      .filter((n) => n !== 'up' && !documented.has(n));
    expect(undocumented).toEqual([]);
  });

  it("every platform metric a service exports is documented with its type (Node's defaults aside)", () => {
    const documented = documentedTypes();
    const exported = new Map(Object.values(scraped).flatMap((t) => [...exposedFamilies(t)]));
    const wrong = [...exported]
      .filter(([n, type]) =>
        /^(process|nodejs)_/.test(n)
          ? documented.has(n) && documented.get(n) !== type
          : documented.get(n) !== type,
      )
      .map(([n, type]) => `${n}: ${type}, documented as ${documented.get(n) ?? 'nothing'}`);
    expect(wrong).toEqual([]);
  });

  it('follows the naming conventions: counters end in _total, durations in _seconds', () => {
    for (const text of Object.values(scraped)) {
      for (const [name, type] of exposedFamilies(text)) {
        // prom-client prints a counter's family name with its _total.
        if (/^(process|nodejs)_/.test(name)) continue; // prom-client's own defaults
        if (type === 'counter') expect(name).toMatch(/_total$/);
        else expect(name).not.toMatch(/_total$/);
        if (/duration|latency|delay|lag/.test(name)) expect(name).toMatch(/_seconds/);
      }
    }
  });

  it('records the saga: POST to CONFIRMED, each step per event type, orders by status', () => {
    const order = scraped.order!;
    expect(sampleValue(order, 'order_confirmation_duration_seconds_count')).toBeGreaterThanOrEqual(
      1,
    );
    expect(sampleValue(order, 'orders_in_status', { status: 'CONFIRMED' })).toBeGreaterThanOrEqual(
      1,
    );
    // The steps: product reserves on order.created, payment charges on order.created...
    expect(
      sampleValue(scraped.product!, 'events_processed_delay_seconds_count', {
        group: 'product',
        event_type: 'order.created',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(order, 'events_handler_duration_seconds_count', {
        group: 'order',
        event_type: 'payment.completed',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('reports outbox, pools and anchoring from their stores', () => {
    for (const name of ['auth', 'product', 'comments', 'payment', 'order']) {
      const text = scraped[name]!;
      expect({ name, unsent: sampleValue(text, 'outbox_unsent_events') }).toEqual({
        name,
        unsent: expect.any(Number),
      });
      expect({ name, lag: sampleValue(text, 'outbox_lag_seconds') }).toEqual({
        name,
        lag: expect.any(Number),
      });
      const store = name === 'payment' || name === 'order' ? 'postgres' : 'mongodb';
      expect({ name, max: sampleValue(text, 'db_pool_max_connections', { store }) }).toEqual({
        name,
        max: expect.any(Number),
      });
    }
    // Postgres's pool is read from the pool: the order service has opened connections.
    const orderPool = sampleValue(scraped.order!, 'db_pool_connections', { store: 'postgres' });
    expect(orderPool).toBeGreaterThan(0);
    // MongoDB's is counted from the driver's events: product has connections open.
    const productPool = sampleValue(scraped.product!, 'db_pool_connections', { store: 'mongodb' });
    expect(productPool).toBeGreaterThan(0);
    expect(sampleValue(scraped.order!, 'anchoring_records_total')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(scraped.order!, 'anchoring_gas_used_total')).toBeGreaterThan(21_000);
    expect(sampleValue(scraped.order!, 'anchoring_writer')).toBe(1);
  });

  it('labels HTTP requests by route template, never by the raw path', () => {
    const routes = [
      ...scraped.product!.matchAll(/^http_requests_total\{[^}]*route="([^"]*)"/gm),
    ].map((m) => m[1]!);
    expect(routes.length).toBeGreaterThan(0);
    // A product read was made by id: its route is the template.
    expect(routes.some((r) => r.includes(':id') || r.includes(':productId'))).toBe(true);
    expect(routes.some((r) => /[0-9a-f]{24}/.test(r))).toBe(false);
  });

  it('the gateway counts its cache and each upstream; every breaker is reported', () => {
    const gw = scraped.gateway!;
    expect(sampleValue(gw, 'gateway_requests_total', { upstream: 'order' })).toBeGreaterThan(0);
    expect(sampleValue(gw, 'gateway_cache_requests_total', { result: 'hit' })).toBeGreaterThan(0);
    expect(sampleValue(gw, 'gateway_upstream_healthy_replicas', { upstream: 'order' })).toBe(1);
    // The services' own clients report their breakers the same way: closed after the order.
    expect(sampleValue(scraped.order!, 'client_circuit_open', { upstream: 'product' })).toBe(0);
    expect(sampleValue(scraped.payment!, 'client_circuit_open', { upstream: 'order' })).toBe(0);
  });
});
