import type { Server } from 'node:http';
import type { Logger } from '../logging/logger';

export interface ShutdownStep {
  name: string;
  close: () => Promise<unknown> | unknown;
}

export interface ShutdownOptions {
  server?: Server;
  logger: Logger;
  /** Closed in order after the server has drained: e.g. bus consumers, then stores. */
  steps?: ShutdownStep[];
  timeoutMs?: number;
  exit?: (code: number) => void;
}

function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    // Stop accepting; idle keep-alive sockets are closed now, busy ones after their response.
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Graceful shutdown: stop accepting, let in-flight requests finish (up to the timeout),
 * then close each step in order (consumers drain their in-flight handlers in close()),
 * then exit 0. Returns the function itself so tests and launchers can call it directly.
 */
export function gracefulShutdown(options: ShutdownOptions): (signal?: string) => Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;

  const shutdown = (signal = 'manual'): Promise<void> => {
    running ??= (async () => {
      options.logger.info('shutting down', { signal });
      let code = 0;
      if (options.server) await closeServer(options.server, timeoutMs);
      for (const step of options.steps ?? []) {
        try {
          await step.close();
        } catch (err) {
          code = 1;
          options.logger.error('shutdown step failed', { step: step.name, err });
        }
      }
      options.logger.info('stopped', { signal });
      exit(code);
    })();
    return running;
  };
  return shutdown;
}

/** Wires SIGTERM and SIGINT to the shutdown function (for main.ts). */
export function onShutdownSignals(shutdown: (signal?: string) => Promise<void>): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown(signal));
  }
}
