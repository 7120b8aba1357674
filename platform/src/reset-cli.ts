import fs from 'node:fs';
import { assertResettable, dataDir, resetDataDir } from './data-dir';
import { lockDataDir } from './data-dir-lock';

/** `npm run reset`: empties the embedded run's data directory (refused while a platform runs on it). */
async function main(): Promise<void> {
  const dir = dataDir();
  if (!fs.existsSync(dir)) {
    process.stdout.write(`${dir} does not exist: nothing to reset\n`);
    return;
  }
  // Checked before the lock, which would write into a directory that is not ours.
  assertResettable(dir);
  const unlock = await lockDataDir(dir, { onWait: (line) => process.stdout.write(`${line}\n`) });
  try {
    resetDataDir(dir);
  } finally {
    await unlock();
  }
  process.stdout.write(`emptied ${dir}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`npm run reset: ${(err as Error).message}\n`);
  process.exit(1);
});
