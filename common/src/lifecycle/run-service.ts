import type Joi from 'joi';
import { createEventBus, type EventBusConfig } from '../bus/factory';
import type { EventBus } from '../bus/types';
import { ConfigError, loadConfig } from '../config/load-config';
import { createLogger, type Logger } from '../logging/logger';
import { gracefulShutdown, onShutdownSignals } from './shutdown';

/** What every service's configuration carries (commonSchema + event bus keys). */
export interface ServiceBaseConfig extends EventBusConfig {
  LOG_LEVEL: string;
  SHUTDOWN_TIMEOUT_MS: number;
}

export interface StartedService {
  url: string;
  stop(): Promise<void>;
}

export interface RunServiceOptions<C extends ServiceBaseConfig, S extends StartedService> {
  /** Short service name ('order'): logger 'order-service', bus connections 'order'. */
  name: string;
  configSchema: Joi.ObjectSchema<C>;
  /** Starts the service with the real bus; runService closes the bus after service.stop(). */
  start: (deps: { config: C; bus: EventBus; logger: Logger }) => Promise<S>;
  /** Injectable for tests; defaults are the process's. */
  env?: NodeJS.ProcessEnv;
  exit?: (code: number) => void;
  stderr?: (line: string) => void;
  /** Wires the shutdown function to signals (default SIGTERM/SIGINT). */
  onSignals?: (shutdown: (signal?: string) => Promise<void>) => void;
  createBus?: (config: C, logger: Logger) => EventBus;
  createLogger?: (service: string, level: string) => Logger;
}

export interface RunningService<S> {
  service: S;
  /** Stops the service, then the bus, then exits (0, or 1 when a step failed). */
  shutdown: (signal?: string) => Promise<void>;
}

/**
 * A service's main.ts in one call: config → logger → bus → start → shutdown on signals.
 * A bad configuration or a failed start prints one line on stderr and exits 1 (no stack trace);
 * the promise then resolves to undefined.
 */
export async function runService<C extends ServiceBaseConfig, S extends StartedService>(
  options: RunServiceOptions<C, S>,
): Promise<RunningService<S> | undefined> {
  const { name } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const stderr = options.stderr ?? ((line: string) => void process.stderr.write(line));
  try {
    const config = loadConfig(options.configSchema, options.env ?? process.env);
    const logger = (options.createLogger ?? createLogger)(`${name}-service`, config.LOG_LEVEL);
    const bus = options.createBus
      ? options.createBus(config, logger)
      : createEventBus(config, { service: name, logger });
    const service = await options.start({ config, bus, logger });
    logger.info(`${name} service listening`, { url: service.url });
    const shutdown = gracefulShutdown({
      logger,
      exit,
      timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      steps: [
        { name: `${name} service`, close: () => service.stop() },
        { name: 'event bus', close: () => bus.close() },
      ],
    });
    (options.onSignals ?? onShutdownSignals)(shutdown);
    return { service, shutdown };
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
