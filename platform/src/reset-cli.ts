import { dataDir, resetDataDir } from './data-dir';

/** `npm run reset`: deletes the embedded run's data directory (stop the platform first). */
const dir = dataDir();
resetDataDir(dir);
process.stdout.write(`removed ${dir}\n`);
