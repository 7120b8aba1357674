import { createLogger, gracefulShutdown, loadConfigOrExit, onShutdownSignals } from '@ecom/common';
import { gatewayConfigSchema, type GatewayConfig } from './config';
import { startGateway } from './service';

async function main(): Promise<void> {
  const config = loadConfigOrExit<GatewayConfig>(gatewayConfigSchema);
  const logger = createLogger('gateway', config.LOG_LEVEL);
  const gateway = await startGateway({ config, logger });
  const shutdown = gracefulShutdown({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [{ name: 'gateway', close: () => gateway.stop() }],
  });
  onShutdownSignals(shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `gateway failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
