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
    // stop() closes the server (draining requests) and the relay; the bus drains its
    // handlers before the MongoDB connection would be needed no more.
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
