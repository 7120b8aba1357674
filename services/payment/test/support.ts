import { loadConfig } from '@ecom/common/config';
import { testServiceEnv } from '@ecom/test-support';
import { paymentConfigSchema, type PaymentConfig } from '../src/config';

// Without POSTGRES_URL each file starts its own PGlite stand-in, which can take a while.
export const STARTUP_TIMEOUT_MS = 60_000;

/** The configuration of a payment service under test: the test keys, a free port, no logs. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): PaymentConfig {
  return loadConfig(paymentConfigSchema, {
    ...testServiceEnv,
    DATABASE_URL: databaseUrl,
    ...env,
  });
}
