import { createEventBus, createLogger, gracefulShutdown, onShutdownSignals } from '@ecom/common';
import { loadCommentsConfigOrExit } from './config';
import { startCommentsService } from './service';

/** Runs the comments service from the environment (see .env.example). */
async function main(): Promise<void> {
  const config = loadCommentsConfigOrExit();
  const logger = createLogger('comments-service', config.LOG_LEVEL);
  const bus = createEventBus(config, { service: 'comments', logger });
  const service = await startCommentsService({ config, bus, logger });
  const shutdown = gracefulShutdown({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    // Stop accepting and drain requests first, then let the bus finish in-flight handlers,
    // then stop the outbox relay and close MongoDB (service.stop()).
    server: service.server,
    steps: [
      { name: 'bus', close: () => bus.close() },
      { name: 'service', close: () => service.stop() },
    ],
  });
  onShutdownSignals(shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `comments service failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
