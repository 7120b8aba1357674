import {
  createEventBus,
  createLogger,
  gracefulShutdown,
  loadConfigOrExit,
  onShutdownSignals,
} from '@ecom/common';
import { orderConfigSchema } from './config';
import { startOrderService } from './service';

async function main(): Promise<void> {
  const config = loadConfigOrExit(orderConfigSchema);
  const logger = createLogger('order-service', config.LOG_LEVEL);
  const bus = createEventBus(config, { service: 'order', logger });
  const service = await startOrderService({ config, bus, logger });
  logger.info('order service listening', { url: service.url });
  onShutdownSignals(
    gracefulShutdown({
      logger,
      timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      steps: [
        { name: 'order service', close: () => service.stop() },
        { name: 'event bus', close: () => bus.close() },
      ],
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`order service failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
