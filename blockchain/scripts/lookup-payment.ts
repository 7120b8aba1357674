/**
 * Shows every anchored record of one payment and checks each receipt against the chain.
 * PAYMENT_ID=... npx hardhat run scripts/lookup-payment.ts --network localhost
 * (GATEWAY_URL defaults to http://127.0.0.1:3000; TOKEN=<jwt> if the route needs one.)
 */
import { lookup, requireEnv } from './lib';

lookup('payment', requireEnv('PAYMENT_ID', '<payment-id>')).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
