/**
 * Shows every anchored record of one order and checks each receipt against the chain.
 * ORDER_ID=... npx hardhat run scripts/lookup-order.ts --network localhost
 * (GATEWAY_URL defaults to http://127.0.0.1:3000; TOKEN=<jwt> if the route needs one.)
 */
import { lookup, requireEnv } from './lib';

lookup('order', requireEnv('ORDER_ID', '<order-id>')).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
