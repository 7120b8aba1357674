import { startProcessFleet, type ProcessFleet } from './launcher';
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
  const started = Date.now();
  let fleet: ProcessFleet;
  try {
    fleet = await startProcessFleet(args);
  } catch (err) {
    process.stderr.write(
      `fleet failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`started in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping ${fleet.processes().length} processes...\n`);
    await fleet.stop();
    process.stdout.write('stopped\n');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // A replica that dies is reported (it is not restarted: the others carry its load).
  for (const p of fleet.processes()) {
    void p.exited.then(() => {
      if (!stopping) process.stderr.write(`${p.label} exited (log: ${p.logFile})\n`);
    });
  }
}

void main();
