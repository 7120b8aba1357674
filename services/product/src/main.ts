import {
  createEventBus,
  createLogger,
  gracefulShutdown,
  loadConfigOrExit,
  onShutdownSignals,
} from '@ecom/common';
import { SERVICE_NAME } from './app';
import { productConfigSchema } from './config';
import { startProductService } from './service';

async function main(): Promise<void> {
  const config = loadConfigOrExit(productConfigSchema);
  const logger = createLogger(SERVICE_NAME, config.LOG_LEVEL);
  const bus = createEventBus(config, { service: 'product', logger });
  const service = await startProductService({ config, bus, logger });
  // The service closes its own server and stores; the bus is ours to close after it.
  const shutdown = gracefulShutdown({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      { name: 'product service', close: () => service.stop() },
      { name: 'event bus', close: () => bus.close() },
    ],
  });
  onShutdownSignals(shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `product-service failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
