/**
 * How fast the host runs a fixed piece of work, measured as the CPU time this process spent
 * doing it, not the wall time: the machine's own load makes a process wait for a CPU, which its
 * CPU time leaves out, while a slower host (a busier neighbour on the same physical cores, a
 * lower clock) makes the same work take more of it. On this kind of virtual machine that time
 * moved by about 50 % from one minute to the next with the machine idle, so a bench prints it
 * beside its CPU figures: a higher figure says the host was slower then. It does not say by how
 * much a platform's own work slowed (that work waits on sockets and wakes processes, which a
 * slower host hurts otherwise), so builds are compared side by side, never across hours.
 *
 * The CPU time is the whole process's (`process.cpuUsage`: Linux's per-thread schedstat counts
 * a running thread only at the scheduler's tick, 4 ms here, longer than the work), so V8's own
 * threads add a little to each sample; the median of many keeps that steady.
 */
import { fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { repoRoot } from '../src/data-dir';

/** This process's CPU time so far (user and system, all threads), in ms. */
export function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const DOCUMENT = {
  orderId: '00000000-0000-4000-8000-000000000000',
  lines: [{ productId: 'p'.repeat(24), quantity: 2, unitPriceCents: 1999 }],
  note: 'x'.repeat(400),
  paid: true,
};

/**
 * The fixed work: what a saga step does in small (JSON out and in, a hash, a keyed map), the
 * same every call, 2-3 ms of CPU on this machine. Returns a value so none of it is optimised away.
 */
export function fixedWork(): number {
  let sum = 0;
  const seen = new Map<string, number>();
  for (let i = 0; i < 500; i++) {
    const text = JSON.stringify(DOCUMENT);
    sum += (JSON.parse(text) as typeof DOCUMENT).lines[0]!.quantity;
    sum += createHash('sha256').update(text).digest()[0]!;
    seen.set(`k${i % 64}`, i);
  }
  return sum + seen.size;
}

/** The CPU ms one run of `work` took. */
export function cpuMsOf(work: () => unknown = fixedWork, clock = processCpuMs): number {
  const before = clock();
  work();
  return clock() - before;
}

/**
 * The middle value, or the mean of the middle two: for a handful of probe samples (the latency
 * figures take the nearest-rank quantile of fleet-workload.ts instead).
 */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface HostSpeedProbe {
  /** The median CPU ms of the fixed work over the samples taken between two times (ms since the epoch); null: none. */
  medianBetween(from: number, to: number): number | null;
  /** The probe process's pid. */
  readonly pid: number;
  /** Stops the probe's process. */
  stop(): Promise<void>;
}

/**
 * Runs the fixed work every `intervalMs` (about 0.5 % of a core at the default) in a process of
 * its own, whose CPU time is then the work's alone: the bench's own process is busy with the
 * load it sends, and its threads' work would land in the samples. Its samples are kept with
 * their times, so each measurement takes those of its own window.
 */
export async function startHostSpeedProbe(intervalMs = 500): Promise<HostSpeedProbe> {
  const samples: Array<{ at: number; ms: number }> = [];
  // Run as the fleet's processes are (tsx, and the watch that stops it with its parent),
  // whoever forks it: the probe is this very module's work. Written out, not taken from
  // spawn.ts: `npm run bench:ab` runs this file inside older builds too.
  const child = fork(path.join(__dirname, 'host-speed-probe.ts'), [String(intervalMs)], {
    cwd: repoRoot,
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(repoRoot, 'platform/tsconfig.run.json') },
    execArgv: [
      '--import',
      'tsx',
      '--import',
      path.join(repoRoot, 'platform/src/fleet-processes/parent-watch.ts'),
    ],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit').then(() => undefined);
  child.on('message', (m: { at: number; ms: number }) => samples.push(m));
  // Its first sample, or why there is none: an exit, a failed spawn ('error'), a minute.
  const died = exited.then(() => {
    throw new Error(`the host speed probe exited (${child.exitCode ?? child.signalCode})`);
  });
  died.catch(() => undefined); // once started, its exit is stop()'s
  try {
    await Promise.race([once(child, 'message', { signal: AbortSignal.timeout(60_000) }), died]);
  } catch (err) {
    child.kill();
    throw err;
  }
  // A later error (a message it could not send) only ends its samples.
  child.on('error', () => undefined);
  return {
    pid: child.pid!,
    medianBetween: (from, to) =>
      median(samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.ms)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}
