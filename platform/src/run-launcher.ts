import { inspect } from 'node:util';

/**
 * The part every launcher command shares (`npm start`, `npm run fleet`): start, report the
 * start time or a one-line failure (exit 1), then stop everything once on SIGINT or SIGTERM.
 */
export async function runLauncher<T extends { stop(): Promise<unknown> }>(options: {
  /** Names what failed to start: "platform", "fleet". */
  what: string;
  start: () => Promise<T>;
  /** The line printed when a signal arrives. */
  stoppingLine?: (running: T) => string;
}): Promise<{ running: T; stopping: () => boolean }> {
  const started = Date.now();
  let running: T;
  try {
    running = await options.start();
  } catch (err) {
    process.stderr.write(`${options.what} failed to start: ${describeFailure(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`started in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: ${options.stoppingLine?.(running) ?? 'stopping...'}\n`);
    await running.stop();
    process.stdout.write('stopped\n');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  return { running, stopping: () => stopping };
}

/**
 * One line for what stopped a start. Not every library throws an Error: a first start on a
 * full disk was reported as "[object Object]", what `String` makes of a plain object.
 */
export function describeFailure(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object') {
    const { message, code } = err as { message?: unknown; code?: unknown };
    if (typeof message === 'string' && message) {
      return typeof code === 'string' || typeof code === 'number'
        ? `${message} (${code})`
        : message;
    }
    return inspect(err, { depth: 2, breakLength: Infinity });
  }
  return String(err);
}
