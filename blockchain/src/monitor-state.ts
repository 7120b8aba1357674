/**
 * The monitor's files under Node (docs/verification.md §6): its state between runs
 * (MONITOR_STATE_FILE) and the promises kept by customers and auditors (PROMISES_FILE). Kept out
 * of monitor.ts, which the audit page bundles for the browser.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '@ecom/common/util';
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

/** Writes the state whole or not at all (a crash leaves the old file or the new one). */
export function writeMonitorState(file: string, memory: MonitorMemory): void {
  writeFileDurably(path.resolve(file), `${JSON.stringify(memory)}\n`);
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
