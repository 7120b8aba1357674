/**
 * The independent monitor (docs/verification.md §6) on Hardhat's provider:
 *   npx hardhat run scripts/monitor.ts --network localhost
 * Environment: GATEWAY_URL (default http://127.0.0.1:3000), CONTRACT_ADDRESS (default: the
 * deployments/<network>.json address), KNOWN_ANCHORERS (comma list; default: the services'
 * /log/info anchorers and the deployment's), PROMISES_FILE (kept promises: a file or a directory
 * of saved promise-log pages, placement answers or record answers), MONITOR_STATE_FILE (what
 * earlier runs saw, to report what vanished since), FROM_BLOCK, SERVICES (default order,payment).
 * Exit code: 0 no findings, 1 an error finding, 3 warnings only, 2 the monitor could not run.
 */
import { ethers } from 'hardhat';
import { runMonitor } from '../src/monitor';
import { monitorOptionsFromEnv } from '../src/monitor-cli';
import { deploymentFile } from './lib';

runMonitor({
  provider: ethers.provider,
  ...monitorOptionsFromEnv(process.env, deploymentFile()),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`monitor failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
