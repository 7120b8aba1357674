import { ProviderSimulator } from '@ecom/payment-service';

/** The signing secret of `npm start`'s simulator when PAYMENT_WEBHOOK_SECRET is not set. */
const DEV_SECRET = 'whsec_local_provider_sim';

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
 */
export async function startLocalProvider(
  env: NodeJS.ProcessEnv,
  gatewayPort: number,
): Promise<LocalProvider | null> {
  if (env.PAYMENT_GATEWAY !== 'provider' || env.PAYMENT_PROVIDER_URL) return null;
  const secret = env.PAYMENT_WEBHOOK_SECRET || DEV_SECRET;
  const sim = new ProviderSimulator({
    port: Number(env.PROVIDER_SIM_PORT ?? 3040),
    webhookUrl: `http://127.0.0.1:${gatewayPort}/api/payments/webhooks`,
    secrets: [secret],
    settleDelayMs: Number(env.PROVIDER_SIM_SETTLE_DELAY_MS ?? 2000),
  });
  const url = await sim.start();
  return {
    url,
    env: { ...env, PAYMENT_PROVIDER_URL: url, PAYMENT_WEBHOOK_SECRET: secret },
    stop: () => sim.close(),
  };
}
