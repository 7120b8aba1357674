import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '../..');
const SIM_MAIN = 'services/payment/src/provider-sim/main.ts';

export interface ProviderSimProcess {
  url: string;
  child: ChildProcess;
  /** POST a /sim control (config, release) or GET one (no body), answered as JSON. */
  control<T = unknown>(route: string, body?: object): Promise<T>;
  /** Every delivery attempt the simulator made, oldest first. */
  deliveries(): Promise<
    Array<{
      eventId: string;
      type: string;
      intentId: string;
      attempt: number;
      status: number | null;
    }>
  >;
  /** The simulator's output so far (for a failing test's message). */
  output(): string;
  stop(): Promise<void>;
}

export interface ProviderSimEnv {
  /**
   * Default 0: the system picks a free port and the process reports it (`url`). A fixed port in
   * the ephemeral range can be taken meanwhile by any socket's local end.
   */
  port?: number;
  secret: string;
  webhookUrl?: string;
  settleDelayMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  maxAttempts?: number;
}

/**
 * The payment provider simulator as its own Node process (services/payment/src/provider-sim),
 * so the adapter and the webhooks cross a real HTTP boundary; resolves once it listens.
 */
export async function startProviderSim(env: ProviderSimEnv): Promise<ProviderSimProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SIM_MAIN], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PROVIDER_SIM_PORT: String(env.port ?? 0),
      PROVIDER_SIM_HOST: '127.0.0.1',
      PROVIDER_SIM_WEBHOOK_SECRET: env.secret,
      PROVIDER_SIM_WEBHOOK_URL: env.webhookUrl ?? '',
      PROVIDER_SIM_SETTLE_DELAY_MS: String(env.settleDelayMs ?? 300),
      PROVIDER_SIM_RETRY_BASE_MS: String(env.retryBaseMs ?? 100),
      PROVIDER_SIM_RETRY_MAX_MS: String(env.retryMaxMs ?? 1000),
      PROVIDER_SIM_MAX_ATTEMPTS: String(env.maxAttempts ?? 30),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`provider-sim did not start:\n${out}`)),
      60_000,
    );
    const onData = () => {
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve((JSON.parse(line) as { url: string }).url);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`provider-sim exited (${code}):\n${out}`));
    });
  });
  const control = async <T>(route: string, body?: object): Promise<T> => {
    const res = await fetch(`${url}${route}`, {
      method: body ? 'POST' : 'GET',
      headers: body ? { 'content-type': 'application/json' } : {},
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await res.json()) as T;
  };
  return {
    url,
    child,
    control,
    deliveries: async () =>
      (
        await control<{ deliveries: Awaited<ReturnType<ProviderSimProcess['deliveries']>> }>(
          '/sim/deliveries',
        )
      ).deliveries,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
