import { createEventBus, type EventBusConfig } from '../bus/factory';
import type { EventBus } from '../bus/types';
import { ConfigError, loadConfig } from '../config/load-config';
import { gracefulShutdown, onShutdownSignals } from '../lifecycle/shutdown';
import { uncaughtExceptionHandler } from '../lifecycle/stray-network-errors';
import { createLogger, type Logger } from '../logging/logger';
import type { RunningService, Service, ServiceBaseConfig } from './define-service';

export interface RunServiceOptions<C> {
  /** Injectable for tests; defaults are the process's. */
  env?: NodeJS.ProcessEnv;
  exit?: (code: number) => void;
  stderr?: (line: string) => void;
  /** Installs the handler of uncaught exceptions (default: the process's). */
  onUncaught?: (handler: (err: unknown) => void) => void;
  /** Wires the shutdown function to signals (default SIGTERM/SIGINT). */
  onSignals?: (shutdown: (signal?: string) => Promise<void>) => void;
  createBus?: (config: C, logger: Logger) => EventBus;
  createLogger?: (service: string, level: string) => Logger;
}

export interface RunningMain<X> {
  service: RunningService<X>;
  /** Stops the service (its bus included), then exits 0, or 1 when a step failed. */
  shutdown: (signal?: string) => Promise<void>;
}

/**
 * A service's main.ts in one call: configuration from the environment → logger → its own bus →
 * start → graceful stop on SIGTERM/SIGINT. A bad configuration or a failed start prints one
 * line on stderr and exits 1 (no stack trace); the promise then resolves to undefined.
 */
export async function runService<C extends ServiceBaseConfig, O, X>(
  service: Service<C, O, X>,
  options: RunServiceOptions<C> = {},
): Promise<RunningMain<X> | undefined> {
  const { name } = service;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const stderr = options.stderr ?? ((line: string) => void process.stderr.write(line));
  try {
    const config = loadConfig(service.configSchema, options.env ?? process.env);
    const logger = (options.createLogger ?? createLogger)(`${name}-service`, config.LOG_LEVEL);
    (options.onUncaught ?? ((h) => process.on('uncaughtException', h)))(
      uncaughtExceptionHandler(logger, exit),
    );
    const bus = options.createBus
      ? options.createBus(config, logger)
      : service.usesBus === false
        ? undefined
        : createEventBus(config as EventBusConfig, { service: name, logger });
    const running = await service.start({ config, bus, ownsBus: true, logger });
    const shutdown = gracefulShutdown({
      logger,
      exit,
      timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      steps: [{ name: `${name} service`, close: () => running.stop() }],
    });
    (options.onSignals ?? onShutdownSignals)(shutdown);
    return { service: running, shutdown };
  } catch (err) {
    stderr(
      err instanceof ConfigError
        ? `${err.message}\n`
        : `${name} service failed to start: ${(err as Error).message}\n`,
    );
    exit(1);
    return undefined;
  }
}
