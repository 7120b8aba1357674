import { createEventBus, createLogger, gracefulShutdown, onShutdownSignals } from '@ecom/common';
import { loadAuthConfigOrExit } from './config';
import { startAuthService } from './service';

/** Real infrastructure: MongoDB at MONGO_URL, the bus chosen by EVENT_BUS. */
async function main(): Promise<void> {
  const config = loadAuthConfigOrExit();
  const logger = createLogger('auth-service', config.LOG_LEVEL);
  const bus = createEventBus(config, { service: 'auth', logger });
  let service;
  try {
    service = await startAuthService({ config, bus, logger });
  } catch (err) {
    logger.error('auth service failed to start', {
      error: err instanceof Error ? err.message : String(err),
    });
    await bus.close().catch(() => undefined);
    process.exit(1);
  }
  const running = service;
  onShutdownSignals(
    gracefulShutdown({
      logger,
      timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      // stop() drains the HTTP server first, then the relay and MongoDB; the bus goes last.
      steps: [
        { name: 'auth service', close: () => running.stop() },
        { name: 'event bus', close: () => bus.close() },
      ],
    }),
  );
}

void main();
