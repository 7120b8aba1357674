/**
 * CPU profile of the gateway's proxied hot path: a stub upstream, one gateway run with
 * `node --cpu-prof` (JWT + rate limit as in gateway-bench.ts, cache off), autocannon for
 * PROFILE_SECONDS (10), then the self time per function, heaviest first.
 *
 * Run: `npx tsx gateway/bench/gateway-profile.ts`. Env: PROFILE_DIR (a temp dir),
 * PROFILE_UPSTREAM (stub|product), REDIS_URL (default redis://127.0.0.1:6379).
 */
import autocannon from 'autocannon';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tokenFor } from '@ecom/test-support';
import { children, gatewayEnv, ROOT, startChild, upstreamEnv } from './bench-processes';

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const dir = process.env.PROFILE_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'gw-profile-'));
/** PROFILE_CPU_PROF=0: no profiler, only the CPU the gateway used per request (from /proc). */
const PROFILE = process.env.PROFILE_CPU_PROF !== '0';

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/**
 * Who caused a sample: the nearest frame (leaf → root) in a package or in gateway/src; Node's
 * own frames (http, streams, net, syscalls) are charged to that caller, or to "node core"
 * when nothing above them is ours or a package's (socket reads, HTTP parsing, timers).
 */
function culprit(url: string): string | undefined {
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] === 'tsx' ? undefined : pkg[1];
  const own = /\/(gateway\/(src|bench)\/[^/]+|common\/src\/[^?]+)/.exec(url);
  return own?.[1];
}

function report(file: string) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as {
    nodes: Node[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byCulprit = new Map<string, number>();
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') return;
    total += dt;
    const where = frame.url.replace(/^.*node_modules\//, '').replace(`file://${ROOT}/`, '');
    const key = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const pkg = frame.url.includes('node_modules/')
      ? frame.url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1')
      : frame.url.startsWith('node:')
        ? frame.url
        : frame.url
          ? where.split('/').slice(0, 2).join('/')
          : frame.functionName;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + dt);
    let who: string | undefined;
    for (let n: number | undefined = id; n !== undefined && !who; n = parent.get(n)) {
      who = culprit(byId.get(n)!.callFrame.url);
    }
    who ??= frame.url.startsWith('node:internal/modules') ? 'module loading' : 'node core';
    byCulprit.set(who, (byCulprit.get(who) ?? 0) + dt);
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  console.log(`busy ${(total / 1e6).toFixed(2)} s\n--- by package/file\n${top(byFile, 25)}`);
  console.log(
    `--- by culprit (package or gateway file, with the Node internals it called)\n${top(byCulprit, 25)}`,
  );
  console.log(`--- by function (self)\n${top(self, 45)}`);
}

async function main() {
  const auth = `Bearer ${tokenFor({ id: 'profile-user', role: 'customer' }, '1h')}`;
  const upstream = await startChild<{ url: string; ids: string[] }>(
    'gateway/bench/upstream-process.ts',
    upstreamEnv(process.env.PROFILE_UPSTREAM ?? 'stub', auth),
  );
  const gateway = await startChild<{ url: string }>(
    'gateway/bench/gateway-process.ts',
    {
      ...gatewayEnv(upstream.url),
      GATEWAY_KEY_PREFIX: `gwprofile-${process.pid}`,
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    },
    PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [],
  );
  let i = 0;
  // Warm-up (JIT, sockets), then the measured run.
  await autocannon({
    url: `${gateway.url}/api/products/${upstream.ids[0]}`,
    connections: 32,
    duration: 2,
    headers: { authorization: auth },
  });
  const cpuBefore = cpuMs(gateway.pid!);
  const result = await autocannon({
    url: gateway.url,
    connections: 32,
    duration: SECONDS,
    // A fixed rate compares CPU per request at the same batching (PROFILE_RATE req/s).
    ...(process.env.PROFILE_RATE ? { overallRate: Number(process.env.PROFILE_RATE) } : {}),
    headers: { authorization: auth },
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => {
          i = (i + 1) % upstream.ids.length;
          return { ...req, path: `/api/products/${upstream.ids[i]}` };
        },
      },
    ],
  });
  const cpuPerRequest = ((cpuMs(gateway.pid!) - cpuBefore) * 1000) / result.requests.total;
  console.log(
    `${result.requests.total} requests, ${result.non2xx} non-2xx, ${Math.round(result.requests.average)} req/s, ` +
      `gateway CPU ${cpuPerRequest.toFixed(0)} µs/req, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  if (!PROFILE) return;
  const exited = new Promise((r) => gateway.child.once('exit', r));
  gateway.child.kill('SIGTERM');
  await exited;
  upstream.child.kill('SIGTERM');
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${dir}`);
  report(path.join(dir, file));
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) c.kill('SIGTERM');
  });
