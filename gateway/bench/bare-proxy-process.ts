/**
 * Child process of gateway-bench.ts: the reference point issue 10 names, a bare Express app
 * with one http-proxy-middleware instance in front of BENCH_TARGET and nothing else (no JWT,
 * no rate limit, no ids, no helmet, no breaker), with the library's defaults. It shows what the
 * gateway's features and its lean hot path cost or save next to the obvious implementation.
 * Prints one JSON line `{ url }` on stdout when ready.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

const target = process.env.BENCH_TARGET;
if (!target) throw new Error('BENCH_TARGET is required');

const app = express();
app.use(createProxyMiddleware({ target, changeOrigin: true }));
const server = app.listen(0, '127.0.0.1', () => {
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

process.once('SIGTERM', () => process.exit(0));
