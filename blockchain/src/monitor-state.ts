/**
 * The monitor's files under Node (docs/verification.md §6): its state between runs
 * (MONITOR_STATE_FILE) and the promises kept by customers and auditors (PROMISES_FILE). Kept out
 * of monitor.ts, which the audit page bundles for the browser.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import {
  readPromisesFile,
  type PublishedPromise,
  type MonitorMemory,
  type MonitorStateStore,
} from './monitor';

/** The state a file holds; null when there is no file yet (the first run). */
export function readMonitorState(file: string): MonitorMemory | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  // A state that cannot be read must stop the run: starting over would forget what vanished.
  let parsed: MonitorMemory;
  try {
    parsed = JSON.parse(text) as MonitorMemory;
  } catch (err) {
    throw new Error(`${file}: not a monitor state (${(err as Error).message})`);
  }
  if (parsed?.version !== 1 || typeof parsed.services !== 'object' || !parsed.services) {
    throw new Error(`${file}: not a monitor state (version 1)`);
  }
  return parsed;
}

/**
 * Writes the state so that a crash leaves the old file or the new one, never half of either:
 * a temporary file in the same directory, flushed, renamed over the old one, and the directory
 * flushed so that the rename itself survives a power cut.
 */
export function writeMonitorState(file: string, memory: MonitorMemory): void {
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(memory)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  renameSync(temp, file);
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/** A state store on one file. */
export function fileStateStore(file: string): MonitorStateStore {
  return {
    name: file,
    load: () => readMonitorState(file),
    save: (memory) => writeMonitorState(file, memory),
  };
}

/**
 * Kept promises from a file, or from every file of a directory (one saved copy of the public
 * promise log per day, say), in any shape `promisesIn` reads.
 */
export function readKeptPromises(fileOrDir: string): PublishedPromise[] {
  if (!statSync(fileOrDir).isDirectory()) return readPromisesFile(fileOrDir);
  return readdirSync(fileOrDir)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .map((name) => path.join(fileOrDir, name))
    .filter((file) => statSync(file).isFile())
    .flatMap((file) => readPromisesFile(file));
}
