import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createServiceClient, type ServiceClientOptions } from '../src/client';
import { DependencyUnavailableError, GatewayTimeoutError } from '../src/errors';
import { runWithContext } from '../src/logging';
import { eventually } from '@ecom/test-support';

interface Upstream {
  url: string;
  calls: { method: string; path: string; correlationId?: string }[];
  mode: 'ok' | 'fail' | 'slow' | 'notfound' | 'stalled-body';
  close(): Promise<void>;
}

/** How long the slow upstream takes: far past the clients' timeouts, so a give-up shows. */
const SLOW_MS = 1500;

async function startUpstream(): Promise<Upstream> {
  const app = express();
  const upstream = { calls: [], mode: 'ok' } as unknown as Upstream;
  app.use((req, res) => {
    upstream.calls.push({
      method: req.method,
      path: req.path,
      correlationId: req.get('x-correlation-id') ?? undefined,
    });
    if (upstream.mode === 'fail') return void res.status(500).json({ error: { code: 'X' } });
    if (upstream.mode === 'notfound')
      return void res.status(404).json({ error: { code: 'NOT_FOUND' } });
    if (upstream.mode === 'stalled-body') {
      // The status and half the body at once, the rest too late.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ok":');
      return void setTimeout(() => res.end('true}'), 300);
    }
    const delay = upstream.mode === 'slow' ? SLOW_MS : 0;
    setTimeout(() => res.json({ ok: true, path: req.path }), delay);
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () => new Promise((resolve) => server.close(() => resolve()));
  return upstream;
}

describe('service client', () => {
  let upstream: Upstream;
  beforeEach(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await upstream.close();
  });
  /** A client of `product` at the upstream, with `options`. */
  const productClient = (options: Partial<ServiceClientOptions> = {}) =>
    createServiceClient({ name: 'product', baseUrl: upstream.url, ...options });

  it('returns JSON bodies and forwards the correlation id of the current context', async () => {
    const client = productClient();
    const res = await runWithContext({ correlationId: 'corr-abcdefgh' }, () => client.get('/p/1'));
    expect(res).toMatchObject({ status: 200, body: { ok: true, path: '/p/1' } });
    expect(upstream.calls[0]?.correlationId).toBe('corr-abcdefgh');
  });

  it('returns 4xx answers as data, without retrying or counting them as failures', async () => {
    upstream.mode = 'notfound';
    const client = productClient({ breaker: { volumeThreshold: 1 } });
    for (let i = 0; i < 5; i += 1) expect((await client.get('/p/x')).status).toBe(404);
    expect(upstream.calls).toHaveLength(5);
    expect(client.breaker.opened).toBe(false);
  });

  it('retries idempotent calls on 5xx, a bounded number of times', async () => {
    upstream.mode = 'fail';
    const client = productClient({ retries: 2, retryDelayMs: 1 });
    await expect(client.get('/p/1')).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(upstream.calls).toHaveLength(3);
  });

  it('never retries non-idempotent calls', async () => {
    upstream.mode = 'fail';
    const client = productClient({ retries: 2, retryDelayMs: 1 });
    await expect(client.request('/p', { method: 'POST', body: { a: 1 } })).rejects.toBeInstanceOf(
      DependencyUnavailableError,
    );
    expect(upstream.calls).toHaveLength(1);
  });

  it('aborts slow calls at the timeout with a 504-style error', async () => {
    upstream.mode = 'slow';
    const client = productClient({ timeoutMs: 50, retries: 0 });
    const started = Date.now();
    const err = await client.get('/p/1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayTimeoutError);
    // Given up before the upstream answered, however busy the machine (no tight stopwatch).
    expect(Date.now() - started).toBeLessThan(SLOW_MS);
  });

  it('times out a body that stops halfway as it times out a late answer: 504-style', async () => {
    upstream.mode = 'stalled-body';
    const client = productClient({ timeoutMs: 50, retries: 0 });
    const err = await client.get('/p/1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayTimeoutError);
  });

  it('sends a method given in lower case as the upper-case method', async () => {
    const client = productClient({ retries: 0 });
    const res = await client.request('/p', { method: 'post', body: { a: 1 } });
    expect(res.status).toBe(200);
    expect(upstream.calls.map((c) => c.method)).toEqual(['POST']);
  });

  it('opens the breaker after enough failures, fails fast while open, and recovers', async () => {
    upstream.mode = 'fail';
    const client = productClient({
      retries: 0,
      // Long enough that the fail-fast call below lands while open on a busy machine.
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 2000 },
    });
    for (let i = 0; i < 3; i += 1) await client.get('/p/1').catch(() => undefined);
    expect(client.breaker.opened).toBe(true);
    const callsWhenOpened = upstream.calls.length;
    const err = (await client.get('/p/1').catch((e: unknown) => e)) as DependencyUnavailableError;
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(err.status).toBe(503);
    expect(err.details).toMatchObject({ circuit: 'open' });
    expect(upstream.calls.length).toBe(callsWhenOpened);

    upstream.mode = 'ok';
    await eventually(() => client.breaker.halfOpen, { what: 'the circuit half-open' });
    expect((await client.get('/p/1')).status).toBe(200);
    expect(client.breaker.closed).toBe(true);
  });

  it('reports an unreachable upstream as unavailable', async () => {
    await upstream.close();
    const client = productClient({ retries: 0 });
    await expect(client.get('/p/1')).rejects.toBeInstanceOf(DependencyUnavailableError);
    upstream = await startUpstream();
  });
});
