/** Child process of gateway-bench.ts: one gateway configured from the environment. */
import { createLogger } from '@ecom/common/logging';
import { loadGatewayConfig } from '../src/config';
import { gatewayService } from '../src/service';

const config = loadGatewayConfig(process.env);
gatewayService
  .start({ config, logger: createLogger('gateway', config.LOG_LEVEL) })
  .then((gw) => process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`))
  .catch((err: unknown) => {
    process.stderr.write(`gateway failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });

// Exit normally on SIGTERM so `--cpu-prof` runs can write their profile.
process.once('SIGTERM', () => process.exit(0));
