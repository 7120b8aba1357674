/**
 * Auth service benchmark (npm run bench -w services/auth): the service over real HTTP on
 * 127.0.0.1 against the MongoDB stand-in in this process, with production-like bcrypt cost.
 * Measures login latency for the three outcomes that must look alike (right password,
 * wrong password, unknown email), refresh rotation and verify throughput.
 * Writes its figures into docs/benchmarks.md, section "Auth service".
 */
import { generateEs256KeyPair } from '@ecom/common/auth';
import { InMemoryEventBus } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import { startMongoStandIn } from '@ecom/infrastructure';
import { loadAverage, measuredOn, writeBenchSection } from '@ecom/test-support';
import { authService, loadAuthConfig } from '../src';

const ROUNDS = Number(process.env.BENCH_BCRYPT_ROUNDS ?? 12);
const LOGINS = Number(process.env.BENCH_LOGINS ?? 30);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);
const CONCURRENCY = 10;
const PASSWORD = 'Correct-horse-9';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function post(url: string, body: unknown, token?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
}

/** One request's latency in ms. */
async function timedRequest(fn: () => Promise<Response>, expect: number): Promise<number> {
  const started = performance.now();
  const res = await fn();
  await res.arrayBuffer();
  const ms = performance.now() - started;
  if (res.status !== expect) throw new Error(`expected ${expect}, got ${res.status}`);
  return ms;
}

/** `CONCURRENCY` clients, each running its own chain; requests per second. */
async function throughput(total: number, client: (c: number) => () => Promise<void>) {
  const per = Math.ceil(total / CONCURRENCY);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, c) => {
      const step = client(c);
      for (let i = 0; i < per; i += 1) await step();
    }),
  );
  return (per * CONCURRENCY) / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  const load = loadAverage();
  const mongo = await startMongoStandIn({ port: 0 });
  const keys = generateEs256KeyPair();
  const bus = new InMemoryEventBus();
  const config = loadAuthConfig({
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    MONGO_URL: `${mongo.url}/auth_bench`,
    JWT_PRIVATE_KEY: keys.privateKey,
    JWT_PUBLIC_KEY: keys.publicKey,
    BCRYPT_ROUNDS: String(ROUNDS),
    // The bench fails on purpose many times: keep the login throttling out of the way.
    LOGIN_MAX_FAILURES: '1000',
    LOGIN_ACCOUNT_MAX_FAILURES: '1000000',
  });
  const service = await authService.start({
    config,
    bus,
    logger: createLogger('auth-bench', 'silent'),
  });
  const api = (p: string) => `${service.url}${p}`;
  try {
    const reg = await post(api('/api/auth/register'), {
      email: 'bench@example.test',
      password: PASSWORD,
      name: 'Bench',
    });
    if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
    const session = (await reg.json()) as { accessToken: string };

    // Interleaved, so a busy machine slows the three outcomes alike.
    const login = (email: string, password: string) =>
      post(api('/api/auth/login'), { email, password });
    const ok: number[] = [];
    const wrong: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < LOGINS; i += 1) {
      ok.push(await timedRequest(() => login('bench@example.test', PASSWORD), 200));
      wrong.push(await timedRequest(() => login('bench@example.test', `Wrong-${i}x`), 401));
      unknown.push(await timedRequest(() => login(`ghost${i}@example.test`, PASSWORD), 401));
    }
    for (const list of [ok, wrong, unknown]) list.sort((a, b) => a - b);

    // Each client rotates its own refresh token chain (a chain must be serial).
    const chains: string[] = [];
    for (let c = 0; c < CONCURRENCY; c += 1) {
      const res = await post(api('/api/auth/login'), {
        email: 'bench@example.test',
        password: PASSWORD,
      });
      chains.push(((await res.json()) as { refreshToken: string }).refreshToken);
    }
    const refreshRate = await throughput(REQUESTS, (c) => async () => {
      const res = await post(api('/api/auth/refresh'), { refreshToken: chains[c] });
      if (res.status !== 200) throw new Error(`refresh: ${res.status}`);
      chains[c] = ((await res.json()) as { refreshToken: string }).refreshToken;
    });
    const verifyRate = await throughput(REQUESTS, () => async () => {
      const res = await fetch(api('/api/auth/verify'), {
        headers: { authorization: `Bearer ${session.accessToken}` },
      });
      if (res.status !== 200) throw new Error(`verify: ${res.status}`);
      await res.arrayBuffer();
    });

    const row = (what: string, ms: number[]) =>
      `| ${what} | ${LOGINS} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 95).toFixed(1)} |`;
    writeBenchSection('auth', 'Auth service', [
      `${measuredOn()}. Load average at the start: ${load}.`,
      'Script: `npm run bench -w services/auth` (`services/auth/bench/auth-bench.ts`): the service and the MongoDB stand-in in one process, real HTTP over 127.0.0.1,',
      `bcrypt cost ${ROUNDS}, ES256 tokens.`,
      '',
      '| login outcome (sequential, interleaved) | requests | p50 ms | p95 ms |',
      '|---|---:|---:|---:|',
      row('right password → 200', ok),
      row('wrong password → 401', wrong),
      row('unknown email → 401 (dummy hash)', unknown),
      '',
      `| operation (${CONCURRENCY} concurrent clients) | requests | requests/s |`,
      '|---|---:|---:|',
      `| POST /api/auth/refresh (rotation: claim + insert) | ${REQUESTS} | ${refreshRate.toFixed(0)} |`,
      `| GET /api/auth/verify (ES256 verify) | ${REQUESTS} | ${verifyRate.toFixed(0)} |`,
      '',
      'Login time is dominated by one bcrypt comparison in every outcome, so an unknown email costs',
      'as much as a wrong password (no user enumeration by timing). A successful login does more',
      'writes (session), a failed one counts the failure.',
    ]);
  } finally {
    await service.stop();
    await bus.close();
    await mongo.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`auth bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
