/**
 * Gateway benchmark: a product read (GET /api/products/:id, 50 ids in rotation)
 *   direct      straight to the upstream
 *   gateway     through the gateway: JWT verified, rate limit decided in Redis, cache off
 *   gateway+cache  through a gateway with GATEWAY_CACHE_TTL_MS=1000 (anonymous reads)
 *   nginx       through Debian's nginx as a plain reverse proxy (1 worker, upstream keep-alive)
 *   bare hpm    through a bare Express + http-proxy-middleware proxy with the library's
 *               defaults and no features (the reference point issue 10 names)
 * for two upstreams: the real product service (on the MongoDB stand-in) and a cheap
 * product-like Express app. Variants run interleaved in rounds, each upstream, gateway and
 * nginx in a process of its own; autocannon drives the load from this process over loopback.
 *
 * Run: `npm run bench -w gateway` (or `npx tsx gateway/bench/gateway-bench.ts` after `npx tsc -b gateway`).
 * Env: BENCH_ROUNDS (4), BENCH_SECONDS (4), BENCH_CONNECTIONS (32), BENCH_UPSTREAMS (product,stub),
 * REDIS_URL (default redis://127.0.0.1:6379; memory limits if unreachable).
 * Writes its figures between the gateway markers of docs/benchmarks.md.
 */
import autocannon from 'autocannon';
import { execSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, loadAverage, measuredOn, tokenFor, writeBenchSection } from '@ecom/test-support';
import { children, gatewayEnv, startChild, upstreamEnv } from './bench-processes';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const UPSTREAM_KINDS = (process.env.BENCH_UPSTREAMS ?? 'product,stub').split(',') as Array<
  'product' | 'stub'
>;
const tempDirs: string[] = [];

const sign = (id: string, role: 'customer' | 'seller') => `Bearer ${tokenFor({ id, role }, '2h')}`;
const customerAuth = sign('bench-customer', 'customer');
const sellerAuth = sign('bench-seller', 'seller');

/**
 * CPU time (user + system, ms) a process and its children (nginx's worker) have used, from
 * /proc; undefined elsewhere. CPU per request is steadier than requests/s on a shared machine.
 */
function cpuMs(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const ticks = (p: number) => {
      const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return Number(fields[11]) + Number(fields[12]);
    };
    let total = ticks(pid);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const child of children ? children.split(' ') : []) total += ticks(Number(child));
    return total * 10; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Machine-wide CPU time (user + nice + system, ms) from /proc/stat; undefined elsewhere. */
function machineBusyMs(): number | undefined {
  try {
    const [user, nice, system] = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1, 4)
      .map(Number);
    return (user! + nice! + system!) * 10;
  } catch {
    return undefined;
  }
}

/** Local redis-server processes: the rate limiter's CPU is part of the measurement, not noise. */
function redisPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'redis-server';
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * How much of the machine's CPU went to processes outside this benchmark (other jobs) while
 * it measured: the figures only compare fairly on a quiet machine, so the report says how quiet.
 */
function foreignCpuMeter(pids: Array<number | undefined>) {
  const ours = () => {
    const self = process.cpuUsage();
    let sum = (self.user + self.system) / 1000;
    for (const pid of [...pids, ...redisPids()]) sum += cpuMs(pid) ?? 0;
    return sum;
  };
  const start = { busy: machineBusyMs(), ours: ours(), at: performance.now() };
  return (): number | undefined => {
    const busy = machineBusyMs();
    if (busy === undefined || start.busy === undefined) return undefined;
    const capacity = (performance.now() - start.at) * os.cpus().length;
    return Math.max(0, busy - start.busy - (ours() - start.ours)) / capacity;
  };
}

function ensureNginx(): string {
  try {
    return execSync('command -v nginx || ls /usr/sbin/nginx', { encoding: 'utf8' })
      .trim()
      .split('\n')[0]!;
  } catch {
    console.log('nginx not found: installing it with apt-get');
    // A fresh machine may have no package lists yet.
    execSync('apt-get install -y nginx || (apt-get update && apt-get install -y nginx)', {
      stdio: 'inherit',
    });
    return '/usr/sbin/nginx';
  }
}

async function startNginx(
  bin: string,
  upstreamUrl: string,
): Promise<{ url: string; pid?: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-bench-nginx-'));
  tempDirs.push(dir);
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, d));
  const port = await freePort();
  const upstream = new URL(upstreamUrl);
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream product { server ${upstream.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://product;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`,
  );
  const child = spawn(bin, ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], {
    stdio: 'inherit',
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    try {
      await fetch(`${url}/health/live`);
      return { url, pid: child.pid };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nginx did not start; see ${dir}/error.log`);
}

interface Run {
  /** CPU µs per request of the proxy process (gateway or nginx) and of the upstream. */
  proxyCpu?: number;
  upstreamCpu?: number;
  rps: number;
  p50: number;
  p99: number;
  bad: number;
}

async function load(
  url: string,
  ids: string[],
  auth: string | undefined,
  seconds: number,
): Promise<Run> {
  let i = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: auth ? { authorization: auth } : {},
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          i = (i + 1) % ids.length;
          return { ...req, path: `/api/products/${ids[i]}` };
        },
      },
    ],
  });
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    bad: result.non2xx + result.errors + result.timeouts,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function redisUrlIfReachable(): Promise<string | undefined> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return url;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

type Variant = 'direct' | 'gateway' | 'gateway+cache' | 'nginx' | 'bare hpm';
const VARIANTS: Variant[] = ['direct', 'gateway', 'gateway+cache', 'nginx', 'bare hpm'];

async function benchUpstream(kind: 'product' | 'stub', nginxBin: string, redisUrl?: string) {
  const upstream = await startChild<{ url: string; ids: string[] }>(
    'gateway/bench/upstream-process.ts',
    upstreamEnv(kind, sellerAuth),
  );
  const prefix = `gwbench-${randomUUID().slice(0, 8)}`;
  const cachingGatewayEnv = (cacheTtl: string) => ({
    ...gatewayEnv(upstream.url),
    GATEWAY_KEY_PREFIX: prefix,
    GATEWAY_CACHE_TTL_MS: cacheTtl,
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
  const [plain, cached, bare] = await Promise.all([
    startChild<{ url: string }>('gateway/bench/gateway-process.ts', cachingGatewayEnv('0')),
    startChild<{ url: string }>('gateway/bench/gateway-process.ts', cachingGatewayEnv('1000')),
    startChild<{ url: string }>('gateway/bench/bare-proxy-process.ts', {
      BENCH_TARGET: upstream.url,
    }),
  ]);
  const nginx = await startNginx(nginxBin, upstream.url);
  const targets: Record<Variant, { url: string; auth?: string; pid?: number }> = {
    direct: { url: upstream.url, auth: customerAuth },
    gateway: { url: plain.url, auth: customerAuth, pid: plain.pid },
    'gateway+cache': { url: cached.url, pid: cached.pid },
    nginx: { url: nginx.url, auth: customerAuth, pid: nginx.pid },
    'bare hpm': { url: bare.url, auth: customerAuth, pid: bare.pid },
  };
  const perRequest = (before: number | undefined, after: number | undefined, requests: number) =>
    before === undefined || after === undefined ? undefined : ((after - before) * 1000) / requests;

  for (const v of VARIANTS) await load(targets[v].url, upstream.ids, targets[v].auth, 2); // warm-up
  const runs: Record<Variant, Run[]> = {
    direct: [],
    gateway: [],
    'gateway+cache': [],
    nginx: [],
    'bare hpm': [],
  };
  const foreignCpu = foreignCpuMeter([upstream.pid, plain.pid, cached.pid, bare.pid, nginx.pid]);
  for (let r = 0; r < ROUNDS; r += 1) {
    // Rotate the order each round so no variant always runs first or last.
    const order = VARIANTS.map((_, k) => VARIANTS[(k + r) % VARIANTS.length]!);
    for (const v of order) {
      const before = [cpuMs(targets[v].pid), cpuMs(upstream.pid)];
      const run = await load(targets[v].url, upstream.ids, targets[v].auth, SECONDS);
      const after = [cpuMs(targets[v].pid), cpuMs(upstream.pid)];
      const requests = run.rps * SECONDS;
      run.proxyCpu = perRequest(before[0], after[0], requests);
      run.upstreamCpu = perRequest(before[1], after[1], requests);
      runs[v].push(run);
      console.log(
        `${kind} round ${r + 1} ${v}: ${Math.round(run.rps)} req/s p50 ${run.p50} ms p99 ${run.p99} ms, ` +
          `CPU µs/req proxy ${run.proxyCpu?.toFixed(0) ?? '-'} upstream ${run.upstreamCpu?.toFixed(0) ?? '-'}` +
          `${run.bad ? ` (${run.bad} non-2xx/errors)` : ''}`,
      );
    }
  }
  const metrics = await (await fetch(`${cached.url}/metrics`)).text();
  const count = (result: string) =>
    Number(
      new RegExp(`gateway_cache_requests_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`).exec(
        metrics,
      )?.[1] ?? 0,
    );
  const hitRatio = count('hit') / Math.max(1, count('hit') + count('miss'));
  const foreign = foreignCpu();

  for (const child of children.splice(0)) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  return { runs, hitRatio, foreign };
}

function rows(kind: string, runs: Record<Variant, Run[]>, hitRatio: number): string[] {
  const rps = (v: Variant) => median(runs[v].map((x) => x.rps));
  const cpu = (v: Variant, field: 'proxyCpu' | 'upstreamCpu') => {
    const values = runs[v].map((x) => x[field]).filter((x): x is number => x !== undefined);
    return values.length ? Math.round(median(values)).toString() : '–';
  };
  const out: string[] = [];
  for (const v of VARIANTS) {
    const bad = runs[v].reduce((n, x) => n + x.bad, 0);
    out.push(
      `| ${kind} | ${v}${v === 'gateway+cache' ? ` (${Math.round(hitRatio * 100)}% HIT)` : ''} | ${Math.round(rps(v)).toLocaleString('en-US')} | ${median(runs[v].map((x) => x.p50))} | ${median(runs[v].map((x) => x.p99))} | ${(rps(v) / rps('direct')).toFixed(2)}× | ${(rps(v) / rps('nginx')).toFixed(2)}× | ${v === 'direct' ? '–' : cpu(v, 'proxyCpu')} | ${cpu(v, 'upstreamCpu')} |${bad ? ` ${bad} non-2xx!` : ''}`,
    );
  }
  return out;
}

async function main() {
  const nginxBin = ensureNginx();
  const redisUrl = await redisUrlIfReachable();
  const load1 = loadAverage();
  const table: string[] = [];
  const summary: string[] = [];
  const foreignShares: number[] = [];
  const check = (ratio: number, target: number) =>
    `${ratio.toFixed(2)}× (target ≥ ${target}: ${ratio >= target ? 'met' : '**not met**'})`;
  for (const kind of UPSTREAM_KINDS) {
    const { runs, hitRatio, foreign } = await benchUpstream(kind, nginxBin, redisUrl);
    if (foreign !== undefined) foreignShares.push(foreign);
    table.push(...rows(kind === 'product' ? 'product service' : 'Express stub', runs, hitRatio));
    const r = (v: Variant) => median(runs[v].map((x) => x.rps));
    summary.push(
      `${kind === 'product' ? 'Product service' : 'Express stub'}: gateway ${check(r('gateway') / r('direct'), 0.5)} direct, ` +
        `${check(r('gateway') / r('nginx'), 0.6)} nginx; cached ${check(r('gateway+cache') / r('direct'), 1)} direct; ` +
        `bare Express + http-proxy-middleware ${(r('bare hpm') / r('nginx')).toFixed(2)}× nginx, the gateway ${(r('gateway') / r('bare hpm')).toFixed(2)}× that.`,
    );
  }
  const foreignNote = foreignShares.length
    ? `Other processes on the machine used ${Math.round(100 * Math.max(...foreignShares))} % of its CPU during the measured rounds${Math.max(...foreignShares) > 0.1 ? ' (**not a quiet machine: the proxied variants, which need the most CPU, lose the most; compare with care**)' : ''}.`
    : '';
  const load2 = loadAverage();
  writeBenchSection('gateway', 'Gateway', [
    `${measuredOn()}, ${execSync(`${nginxBin} -v 2>&1`, { encoding: 'utf8' }).trim()}. Load average at the start: ${load1}, at the end: ${load2}. ${foreignNote}`,
    `Script: \`npm run bench -w gateway\` (\`gateway/bench/gateway-bench.ts\`). GET /api/products/:id over 50 ids, ${CONNECTIONS} connections from autocannon in the bench process; upstream, each gateway, nginx and the bare proxy in processes of their own, all on 127.0.0.1; ${ROUNDS} interleaved rounds of ${SECONDS} s per variant after a 2 s warm-up (medians shown).`,
    `Gateway: JWT (ES256) verified at the edge on every request, rate limit decided in ${redisUrl ? 'Redis (one EVALSHA per request)' : 'memory (Redis unreachable)'}, LOG_LEVEL=info, keep-alive upstream agent. The cached variant sends anonymous reads (only those are cached), TTL 1 s. nginx: 1 worker, upstream keep-alive, access log off. bare hpm: \`express()\` + \`createProxyMiddleware({ target, changeOrigin: true })\`, nothing else (no token check, no rate limit). The product service runs with its memory cache (its default) on the MongoDB stand-in.`,
    '',
    '| upstream | path | requests/s | p50 ms | p99 ms | vs direct | vs nginx | proxy CPU µs/req | upstream CPU µs/req |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...table,
    '',
    "Requests/s are medians over the rounds (each round runs the variants in a rotated order); CPU µs/req is the CPU time (user + system, from /proc) the proxy process (gateway, nginx master + worker, or the bare proxy) and the upstream used per request during the run: it varies less than requests/s when other jobs share the cores. bare hpm has no keep-alive agent, so http-proxy sends `Connection: close` upstream and passes the answer's `Connection: close` back: every request opens two new TCP connections, and autocannon counts its reconnect waits into the latency, so the bare p50/p99 are not comparable with the other rows (its requests/s are).",
    '',
    ...summary.map((s) => `- ${s}`),
  ]);
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGTERM');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
main().catch((err: unknown) => {
  console.error(err);
  for (const child of children) child.kill('SIGTERM');
  process.exit(1);
});
