/**
 * What one service call costs the caller: `npm run bench -w common` (after the bus bench).
 *
 * A product-like upstream (node:http, one JSON answer from memory) runs in a child process, so
 * only the caller's CPU is counted here. One call at a time, as order quotes a product, through
 * global fetch, through undici's request (what the service client uses), and through the service
 * client itself (breaker, replica set, retries, context headers, JSON parse). Per way: CPU per
 * call of this process (user + system, from process.cpuUsage) and wall time per call, after a
 * warm-up. Writes the "Service calls" section of docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { loadAverage, measuredOn, runBench, writeBenchSection } from '@ecom/test-support';
import { createServiceClient } from '../src/client';

const CALLS = Number(process.env.BENCH_CALLS ?? 3000);
const WARM_UP = 300;

const UPSTREAM = `
const http = require('node:http');
const answer = JSON.stringify({ id: 'p1', name: 'Lamp', sellerId: 'u1', available: 12,
  price: { amount: 1999, currency: 'EUR' }, category: 'home' });
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(answer);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

async function startUpstream(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function measure(call: () => Promise<unknown>) {
  for (let i = 0; i < WARM_UP; i++) await call();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  const wallNs = Number(process.hrtime.bigint() - start);
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / CALLS, wallUs: wallNs / 1000 / CALLS };
}

async function main() {
  const loadBefore = loadAverage();
  const upstream = await startUpstream();
  const path = '/api/products/p1';
  const client = createServiceClient({ name: 'product-service', baseUrl: upstream.url });
  const ways: Array<[string, () => Promise<unknown>]> = [
    [
      'global fetch',
      async () => {
        const res = await fetch(`${upstream.url}${path}`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(2000),
        });
        return JSON.parse(await res.text());
      },
    ],
    [
      "undici's request",
      async () => {
        const res = await request(`${upstream.url}${path}`, {
          headers: { accept: 'application/json' },
          signal: AbortSignal.timeout(2000),
        });
        return JSON.parse(await res.body.text());
      },
    ],
    ['the service client (undici)', () => client.get(path)],
  ];
  const results: Array<[string, { cpuUs: number; wallUs: number }]> = [];
  // Two rounds, interleaved, so a slower stretch of the machine falls on every way.
  for (let round = 0; round < 2; round++) {
    for (const [name, call] of ways) {
      const r = await measure(call);
      const seen = results.find(([n]) => n === name);
      if (!seen) results.push([name, r]);
      else if (r.cpuUs < seen[1].cpuUs) seen[1] = r; // the quieter round
    }
  }
  client.close();
  upstream.stop();
  writeBenchSection('service-calls', 'Service calls', [
    `${measuredOn()}. Load average before: ${loadBefore}; after: ${loadAverage()}.`,
    'Script: `npm run bench -w common` (`common/bench/service-client-bench.ts`).',
    '',
    `One GET at a time to a product-like upstream (node:http, in a child process, so only the caller is counted), ${CALLS} calls after ${WARM_UP} to warm up, two interleaved rounds, the quieter kept. CPU of the calling process per call (user + system), and wall time per call.`,
    '',
    '| way | CPU µs per call | wall µs per call |',
    '| --- | ---: | ---: |',
    ...results.map(([n, r]) => `| ${n} | ${r.cpuUs.toFixed(0)} | ${r.wallUs.toFixed(0)} |`),
  ]);
}

runBench('service call bench', main);
