import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ProviderSimulator } from '@ecom/payment-service';
import { dataDir as defaultDataDir } from './data-dir';

/** Where the simulator's signing secret is kept when PAYMENT_WEBHOOK_SECRET is not set. */
export const WEBHOOK_SECRET_FILE = 'provider-webhook-secret';

/** Where the simulator keeps its intents, charges and idempotency keys. */
export const PROVIDER_STATE_FILE = 'provider-sim.json';

/**
 * The simulator's webhook signing secret: random, made once per data directory and readable
 * by its owner only. Never a constant: anyone who knows it can sign a "payment succeeded".
 */
export function loadOrCreateWebhookSecret(dir: string): string {
  const file = path.join(dir, WEBHOOK_SECRET_FILE);
  if (fs.existsSync(file)) {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (kept) return kept;
  }
  const secret = `whsec_${randomBytes(32).toString('hex')}`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export interface LocalProvider {
  url: string;
  /** The launcher's environment with payment pointed at the simulator. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * `PAYMENT_GATEWAY=provider npm start` without a PAYMENT_PROVIDER_URL: the provider simulator
 * (services/payment/src/provider-sim) runs in the launcher on PROVIDER_SIM_PORT (3040) and
 * posts its signed webhooks through the gateway, as a real processor would. Null otherwise.
 * It signs with PAYMENT_WEBHOOK_SECRET, else with the data directory's own secret.
 */
export async function startLocalProvider(
  env: NodeJS.ProcessEnv,
  gatewayPort: number,
  dataDir: string = defaultDataDir(env),
): Promise<LocalProvider | null> {
  if (env.PAYMENT_GATEWAY !== 'provider' || env.PAYMENT_PROVIDER_URL) return null;
  const secret = env.PAYMENT_WEBHOOK_SECRET || loadOrCreateWebhookSecret(dataDir);
  const sim = new ProviderSimulator({
    port: Number(env.PROVIDER_SIM_PORT ?? 3040),
    webhookUrl: `http://127.0.0.1:${gatewayPort}/api/payments/webhooks`,
    secrets: [secret],
    settleDelayMs: Number(env.PROVIDER_SIM_SETTLE_DELAY_MS ?? 2000),
    // Kept with the platform's data: a restart must not forget what it charged.
    stateFile: path.join(dataDir, PROVIDER_STATE_FILE),
  });
  const url = await sim.start();
  return {
    url,
    env: { ...env, PAYMENT_PROVIDER_URL: url, PAYMENT_WEBHOOK_SECRET: secret },
    stop: () => sim.close(),
  };
}
