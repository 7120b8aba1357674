import { runLauncher } from '../run-launcher';
import { startProcessFleet } from './launcher';
import { FLEET_USAGE, FleetUsageError, parseFleetArgs } from './plan';

/**
 * `npm run fleet -- --replicas 2 --gateways 2`: every service and gateway as its own
 * processes on the machine's servers; Ctrl-C (or SIGTERM) stops them all.
 */
async function main(): Promise<void> {
  let args;
  try {
    args = parseFleetArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof FleetUsageError)) throw err;
    process.stderr.write(`${err.message}\n${FLEET_USAGE}\n`);
    process.exit(2);
  }
  const { running: fleet, stopping } = await runLauncher({
    what: 'fleet',
    start: () => startProcessFleet(args),
    stoppingLine: (f) => `stopping ${f.processes().length} processes...`,
  });
  // A replica that dies is reported (it is not restarted: the others carry its load).
  for (const p of fleet.processes()) {
    void p.exited.then(() => {
      if (!stopping()) process.stderr.write(`${p.label} exited (log: ${p.logFile})\n`);
    });
  }
}

void main();
