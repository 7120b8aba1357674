import type { Logger } from '../logging/logger';
import { RepeatedLog } from '../logging/repeated';

export interface PeriodicTaskOptions {
  /** Names the task in logs. */
  name: string;
  intervalMs: number;
  /** One pass. Errors are logged and the next tick tries again. */
  run: () => Promise<unknown>;
  logger: Logger;
}

export interface PeriodicTask {
  readonly name: string;
  /** Schedules a pass every intervalMs (the timer does not keep the process alive). */
  start(): void;
  /** Runs one pass now, or joins the pass already running (tests, start-up catch-up). */
  runOnce(): Promise<void>;
  /**
   * Starts one pass `withinMs` from the first call: the calls in that window share it. For work
   * that arrives in bursts (a pass per item would pay the pass's own cost per item). A pass
   * still running then may have looked before the work came, so the new one follows it.
   */
  runSoon(withinMs: number): void;
  /** Stops the timer and waits for a pass in flight. */
  stop(): Promise<void>;
}

/**
 * A periodic background task (sweepers, reconcilers): never two passes at once in one
 * process; a pass that throws is logged, not fatal. Tasks that several replicas run at once
 * must claim their rows themselves (for example with FOR UPDATE SKIP LOCKED).
 */
export function periodicTask(options: PeriodicTaskOptions): PeriodicTask {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let soon: NodeJS.Timeout | undefined;
  let stopped = false;
  // A store down for minutes fails every pass: one line per 30 s, with the count left out.
  const failures = new RepeatedLog(30_000);
  const runOnce = (): Promise<void> => {
    running ??= options
      .run()
      .then(() => {
        if (failures.reset() > 0)
          options.logger.info('periodic task succeeds again', { task: options.name });
      })
      .catch((err: unknown) => {
        const repeated = failures.take();
        if (!repeated) return;
        options.logger.error('periodic task failed', {
          task: options.name,
          error: err instanceof Error ? err.message : String(err),
          ...repeated,
        });
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    name: options.name,
    start() {
      stopped = false; // a restarted task takes windows again, as its timer does
      if (timer) return;
      timer = setInterval(() => void runOnce(), options.intervalMs);
      timer.unref();
    },
    runOnce,
    runSoon(withinMs) {
      if (soon || stopped) return;
      soon = setTimeout(() => {
        soon = undefined;
        void (running ?? Promise.resolve()).then(() => (stopped ? undefined : runOnce()));
      }, withinMs);
      soon.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      if (soon) clearTimeout(soon);
      soon = undefined;
      await running;
    },
  };
}
