/**
 * The host speed probe's process (host-speed.ts): the fixed work every interval, its CPU time
 * sent to the parent with the time it was taken. It stops with its parent (parent-watch.ts).
 */
import { cpuMsOf, fixedWork } from './host-speed';

const intervalMs = Number(process.argv[2] ?? 500);
if (!process.send || !Number.isFinite(intervalMs) || intervalMs < 1) {
  process.stderr.write('usage: forked by startHostSpeedProbe with an interval in ms\n');
  process.exit(2);
}
// Unmeasured first: V8 compiles the work over its first runs.
for (let i = 0; i < 30; i++) fixedWork();
const sample = () => process.send?.({ at: Date.now(), ms: cpuMsOf() });
sample();
setInterval(sample, intervalMs);
