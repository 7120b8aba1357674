import {
  createEventBus,
  createLogger,
  gracefulShutdown,
  loadConfigOrExit,
  onShutdownSignals,
} from '@ecom/common';
import { paymentConfigSchema } from './config';
import { startPaymentService } from './service';

async function main(): Promise<void> {
  const config = loadConfigOrExit(paymentConfigSchema);
  const logger = createLogger('payment-service', config.LOG_LEVEL);
  const bus = createEventBus(config, { service: 'payment', logger });
  const service = await startPaymentService({ config, bus, logger });
  logger.info('payment service listening', { url: service.url });
  onShutdownSignals(
    gracefulShutdown({
      logger,
      timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      steps: [
        { name: 'payment service', close: () => service.stop() },
        { name: 'event bus', close: () => bus.close() },
      ],
    }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`payment service failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
