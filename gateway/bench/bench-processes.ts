import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { testKeys } from '@ecom/test-support';

export const ROOT = path.resolve(__dirname, '../..');

/** Every process startChild started, for the benchmark to stop when it ends. */
export const children: ChildProcess[] = [];

/** Starts `node <nodeArgs> --import tsx <script>` and waits for its one-line JSON readiness report. */
export function startChild<T>(
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<T & { pid?: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ ...(JSON.parse(line) as T), pid: child.pid, child }));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

/** upstream-process.ts: a `kind` upstream holding 50 products, created with `sellerAuth`. */
export const upstreamEnv = (kind: string, sellerAuth: string) => ({
  BENCH_UPSTREAM: kind,
  BENCH_PRODUCTS: '50',
  JWT_PUBLIC_KEY: testKeys.publicKey,
  BENCH_SELLER_AUTH: sellerAuth,
});

/** gateway-process.ts in front of `upstreamUrl`, as in production, rate limits out of the way. */
export const gatewayEnv = (upstreamUrl: string) => ({
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  HOST: '127.0.0.1',
  PORT: '0',
  JWT_PUBLIC_KEY: testKeys.publicKey,
  PRODUCT_SERVICE_URL: upstreamUrl,
  RATE_LIMIT_POINTS: '10000000',
});
