import { periodicTask } from '../src/lifecycle';
import { createLogger, type Logger } from '../src/logging';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function recordingLogger(): Logger & {
  errors: unknown[];
  infos: Array<{ message: string; meta: unknown }>;
} {
  const logger = createLogger('test', 'silent') as Logger & {
    errors: unknown[];
    infos: Array<{ message: string; meta: unknown }>;
  };
  logger.errors = [];
  logger.infos = [];
  const original = logger.error.bind(logger);
  logger.error = ((message: string, meta?: unknown) => {
    logger.errors.push({ message, meta });
    return original(message, meta as object);
  }) as Logger['error'];
  logger.info = ((message: string, meta?: unknown) => {
    logger.infos.push({ message, meta });
    return logger;
  }) as unknown as Logger['info'];
  return logger;
}

describe('periodicTask', () => {
  it('runs every interval once started, never two passes at once, and stop waits for the pass in flight', async () => {
    let running = 0;
    let maxRunning = 0;
    let passes = 0;
    let finished = 0;
    const task = periodicTask({
      name: 'slow',
      intervalMs: 10,
      logger: recordingLogger(),
      run: async () => {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        passes += 1;
        await sleep(40); // longer than the interval: ticks in between must not start another
        running -= 1;
        finished += 1;
      },
    });
    task.start();
    task.start(); // idempotent: one timer
    await sleep(150);
    // At least two passes, however slowly a busy machine ticks.
    for (const until = Date.now() + 3000; passes < 2 && Date.now() < until;) await sleep(10);
    await task.stop();
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(maxRunning).toBe(1);
    expect(finished).toBe(passes); // stop() waited for the pass in flight
    const after = passes;
    await sleep(50);
    expect(passes).toBe(after); // no timer left
  });

  it('logs a failing pass with the task name and keeps going', async () => {
    const logger = recordingLogger();
    let calls = 0;
    const task = periodicTask({
      name: 'flaky',
      intervalMs: 10,
      logger,
      run: async () => {
        calls += 1;
        if (calls === 1) throw new Error('store down');
      },
    });
    await expect(task.runOnce()).resolves.toBeUndefined();
    expect(logger.errors).toEqual([
      { message: 'periodic task failed', meta: { task: 'flaky', error: 'store down' } },
    ]);
    await task.runOnce();
    expect(calls).toBe(2);
  });

  it('a pass that keeps failing is logged once per 30 s with the count left out, and its end once', async () => {
    const logger = recordingLogger();
    let down = true;
    const task = periodicTask({
      name: 'outage',
      intervalMs: 10,
      logger,
      run: async () => {
        if (down) throw new Error('store down');
      },
    });
    for (let i = 0; i < 20; i++) await task.runOnce();
    expect(logger.errors).toEqual([
      { message: 'periodic task failed', meta: { task: 'outage', error: 'store down' } },
    ]);
    down = false;
    await task.runOnce();
    await task.runOnce();
    expect(logger.infos.filter((l) => l.message === 'periodic task succeeds again')).toHaveLength(
      1,
    );
    down = true;
    await task.runOnce(); // a new outage is logged at once
    expect(logger.errors).toHaveLength(2);
  });

  it('joins the pass already running instead of starting a second one', async () => {
    let passes = 0;
    const task = periodicTask({
      name: 'join',
      intervalMs: 1000,
      logger: recordingLogger(),
      run: async () => {
        passes += 1;
        await sleep(20);
      },
    });
    await Promise.all([task.runOnce(), task.runOnce(), task.runOnce()]);
    expect(passes).toBe(1);
  });

  it('runs one pass for the calls of a window (runSoon), and none once stopped', async () => {
    let passes = 0;
    const task = periodicTask({
      name: 'burst',
      intervalMs: 60_000,
      logger: recordingLogger(),
      run: async () => {
        passes += 1;
      },
    });
    for (let i = 0; i < 5; i++) task.runSoon(30);
    expect(passes).toBe(0); // not at once: the window gathers the burst
    await sleep(80);
    expect(passes).toBe(1);
    task.runSoon(30);
    await sleep(80);
    expect(passes).toBe(2); // a later burst gets a pass of its own
    task.runSoon(30);
    await task.stop();
    await sleep(80);
    expect(passes).toBe(2); // a pending window dies with stop()
    task.start();
    task.runSoon(30);
    await sleep(80);
    expect(passes).toBe(3); // and a restarted task takes windows again
    await task.stop();
  });

  it('a window that ends during a pass gets a pass of its own after it, not the one running', async () => {
    const starts: number[] = [];
    const task = periodicTask({
      name: 'late',
      intervalMs: 60_000,
      logger: recordingLogger(),
      run: async () => {
        starts.push(Date.now());
        await sleep(80);
      },
    });
    const first = task.runOnce();
    task.runSoon(20); // ends while the first pass runs: that pass may have looked already
    await first;
    await sleep(40);
    expect(starts).toHaveLength(2);
    await task.stop();
  });
});
