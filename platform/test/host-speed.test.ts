import { cpuMsOf, fixedWork, median, processCpuMs, startHostSpeedProbe } from '../bench/host-speed';

/** The benches' gauge of the host's speed: a fixed work's CPU time (docs/benchmarks.md). */
describe('processCpuMs: this process’s CPU time', () => {
  it('counts the time the process works and not the time it sleeps', async () => {
    const start = processCpuMs();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const slept = processCpuMs() - start;
    const wallStart = Date.now();
    while (Date.now() - wallStart < 300) fixedWork();
    const worked = processCpuMs() - start - slept;
    // Asleep for 300 ms it used a few ms at most (the timer, the test runner's ticks);
    // spinning for 300 ms it used more, however busy the machine.
    expect(slept).toBeLessThan(100);
    expect(worked).toBeGreaterThan(slept + 10);
  });
});

describe('cpuMsOf and median', () => {
  it('gives the clock’s difference around one run of the work', () => {
    const readings = [5, 7.5];
    const work = jest.fn();
    expect(cpuMsOf(work, () => readings.shift()!)).toBe(2.5);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('counts CPU time by default: 200 ms blocked in a wait cost far less than 200 ms', () => {
    // Wall time would read 200; the process's own CPU (the timer, a busy machine's GC and
    // scheduling included) stays a small part of it. CI read 11.9 ms against a 50 ms wait.
    const blocked = cpuMsOf(() =>
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200),
    );
    expect(blocked).toBeLessThan(50);
    expect(cpuMsOf()).toBeGreaterThan(0);
  });

  it('takes the median, of an odd or an even count, and null of none', () => {
    expect(median([9, 1, 2])).toBe(2);
    expect(median([10, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});

describe('startHostSpeedProbe: the fixed work in a process of its own', () => {
  it('samples until stopped, each measurement from the samples of its own window', async () => {
    const probe = await startHostSpeedProbe(20);
    const from = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 600));
    // A sample inside the window, however slowly a busy machine let the probe start.
    let to = Date.now();
    for (const until = to + 10_000; probe.medianBetween(from, to) === null && to < until;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      to = Date.now();
    }
    const during = probe.medianBetween(from, to);
    expect(during).toBeGreaterThan(0);
    // A CPU time, of a work of a few ms at most on any machine this runs on.
    expect(during!).toBeLessThan(100);
    expect(probe.medianBetween(0, from - 60_000)).toBeNull();
    await probe.stop();
    // Gone: signal 0 only asks whether the process exists.
    expect(() => process.kill(probe.pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    const after = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(probe.medianBetween(after, Date.now())).toBeNull();
  });
});
