import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { errorHandler, notFoundHandler } from '@ecom/common/http';
import { createLogger } from '@ecom/common/logging';
import { auditPagePolicy, auditPageRoutes } from '@ecom/gateway/src/audit-page';

/** How the gateway serves the built audit page (gateway/src/audit-page.ts), on a built stand-in. */
function appFor(dir: string, rpcOrigins?: string[]) {
  const app = express();
  app.use(auditPageRoutes({ dir, rpcOrigins }));
  app.use(notFoundHandler());
  app.use(errorHandler(createLogger('test', 'silent')));
  return app;
}

describe('the audit page on the gateway', () => {
  let dir: string;
  const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-page-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>a</title>');
    fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), script);
    fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.css'), 'body{}');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers the page at /audit and /audit/, revalidated, under its policy', async () => {
    for (const url of ['/audit', '/audit/', '/audit/index.html']) {
      const res = await request(appFor(dir)).get(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(auditPagePolicy());
      expect(res.text).toContain('<title>a</title>');
    }
  });

  it('serves hashed assets for a year, gzipped when asked, with their types', async () => {
    const js = await request(appFor(dir))
      .get('/audit/assets/index-abc123.js')
      .set('Accept-Encoding', 'gzip');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(js.text).toBe(script); // decompressed by the client
    const css = await request(appFor(dir)).get('/audit/assets/index-abc123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['content-encoding']).toBeUndefined();
    expect(css.text).toBe('body{}');
  });

  it('answers unknown files, traversal and other paths with the common 404', async () => {
    for (const url of [
      '/audit/assets/nope.js',
      '/audit/../package.json',
      '/audit/%2e%2e/package.json',
      '/audit/assets/index-ABC123.js',
      '/audit/orders/1',
    ]) {
      const res = await request(appFor(dir)).get(url);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    }
  });

  it('allows connections to loopback and the configured chain endpoints only', () => {
    const policy = auditPagePolicy(['https://rpc.example.org/v1/key']);
    const connect = policy.split('; ').find((d) => d.startsWith('connect-src'))!;
    expect(connect.split(' ').slice(1)).toEqual([
      "'self'",
      'http://127.0.0.1:*',
      'http://localhost:*',
      'http://[::1]:*',
      'https://rpc.example.org',
    ]);
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).not.toMatch(/unsafe-(inline|eval)/);
  });

  it('says the page is not built, in the common error shape, until it is', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-page-empty-'));
    try {
      const app = appFor(empty);
      const res = await request(app).get('/audit/');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: { code: 'AUDIT_PAGE_NOT_BUILT' } });
      // A build made after the gateway started is picked up.
      fs.writeFileSync(path.join(empty, 'index.html'), '<!doctype html><title>b</title>');
      expect((await request(app).get('/audit/')).status).toBe(200);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
