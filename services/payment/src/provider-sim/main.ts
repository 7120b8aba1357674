import { ProviderSimulator } from './simulator';

/**
 * The provider simulator as its own process (tests spawn it; `npm start` with
 * PAYMENT_GATEWAY=provider starts it). Prints one JSON line `{ msg: 'listening', url }` once
 * it accepts requests; SIGTERM / SIGINT stop it.
 */
const env = process.env;
const num = (name: string, fallback: number) =>
  env[name] !== undefined && env[name] !== '' ? Number(env[name]) : fallback;

const sim = new ProviderSimulator({
  host: env.PROVIDER_SIM_HOST ?? '127.0.0.1',
  port: num('PROVIDER_SIM_PORT', 3040),
  ...(env.PROVIDER_SIM_WEBHOOK_URL ? { webhookUrl: env.PROVIDER_SIM_WEBHOOK_URL } : {}),
  secrets: (env.PROVIDER_SIM_WEBHOOK_SECRET ?? 'whsec_dev')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  settleDelayMs: num('PROVIDER_SIM_SETTLE_DELAY_MS', 2000),
  retryBaseMs: num('PROVIDER_SIM_RETRY_BASE_MS', 1000),
  retryMaxMs: num('PROVIDER_SIM_RETRY_MAX_MS', 60_000),
  maxAttempts: num('PROVIDER_SIM_MAX_ATTEMPTS', 20),
  ...(env.PROVIDER_SIM_PUBLIC_URL ? { publicUrl: env.PROVIDER_SIM_PUBLIC_URL } : {}),
  log: (line) => process.stdout.write(`${JSON.stringify({ service: 'provider-sim', ...line })}\n`),
});

sim.start().then(
  (url) =>
    process.stdout.write(`${JSON.stringify({ service: 'provider-sim', msg: 'listening', url })}\n`),
  (err: Error) => {
    process.stderr.write(`provider-sim failed to start: ${err.message}\n`);
    process.exit(1);
  },
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void sim.close().then(() => process.exit(0));
  });
}
