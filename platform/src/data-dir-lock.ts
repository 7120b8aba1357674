import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/** The lock's folder inside the data directory (made with mkdir, which is atomic). */
export const LOCK_NAME = '.lock';
/** Who holds the lock, for the message a second start prints. */
export const LOCK_OWNER_FILE = '.lock-owner';

export interface DataDirLockOptions {
  /**
   * A lock not refreshed for this long is taken over: its holder was killed (a platform that
   * stops, even by Ctrl-C, gives it back at once). The holder refreshes it every third of this.
   */
  staleMs?: number;
  /** How long a start waits for a lock that may be a killed platform's before it gives up. */
  waitMs?: number;
  /** Said once when the lock is held and the start waits for it. */
  onWait?: (message: string) => void;
  /** The lock was taken away (the process stalled past `staleMs`, or the folder was deleted). */
  onCompromised?: (err: Error) => void;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    holder: string,
  ) {
    super(
      `another platform is running on the data directory ${dir}${holder}: stop it first, or give ` +
        'this one a directory of its own (DATA_DIR). Two runs on one directory would overwrite ' +
        "each other's stores and chain.",
    );
    this.name = 'DataDirInUseError';
  }
}

/**
 * Takes the data directory for this process alone (the directory must exist): two platforms on
 * one directory each load its stores and then write them back over the other's, and interleave
 * blocks in one chain journal so that neither can start again. Resolves to the release; refuses
 * with DataDirInUseError when another live process holds it.
 */
export async function lockDataDir(
  dir: string,
  options: DataDirLockOptions = {},
): Promise<() => Promise<void>> {
  const staleMs = options.staleMs ?? 10_000;
  const waitMs = options.waitMs ?? staleMs + 2_000;
  const settings = {
    lockfilePath: path.join(dir, LOCK_NAME),
    stale: staleMs,
    update: Math.max(1_000, Math.floor(staleMs / 3)),
    realpath: false,
    onCompromised: options.onCompromised ?? (() => {}),
  };
  const deadline = Date.now() + waitMs;
  let waited = false;
  for (;;) {
    try {
      const release = await lockfile.lock(dir, settings);
      writeOwner(dir);
      return async () => {
        // Only our own note: a start that took over a lock this process let go stale wrote its own.
        if (readOwner(dir)?.pid === process.pid) {
          fs.rmSync(path.join(dir, LOCK_OWNER_FILE), { force: true });
        }
        await release().catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (Date.now() >= deadline) throw new DataDirInUseError(dir, describeOwner(dir));
      if (!waited) {
        waited = true;
        options.onWait?.(
          `the data directory ${dir} is locked${describeOwner(dir)}: waiting up to ` +
            `${Math.round(waitMs / 1000)} s in case that platform was killed`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, staleMs / 4)));
    }
  }
}

/** A courtesy note for the refusal message: a disk that cannot take it must not cost the lock. */
function writeOwner(dir: string): void {
  const owner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  try {
    fs.writeFileSync(path.join(dir, LOCK_OWNER_FILE), `${JSON.stringify(owner)}\n`, {
      mode: 0o600,
    });
  } catch {
    // The message then names no holder.
  }
}

function readOwner(dir: string): { pid?: unknown; host?: unknown; since?: unknown } | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, LOCK_OWNER_FILE), 'utf8')) as {
      pid?: unknown;
      host?: unknown;
      since?: unknown;
    };
  } catch {
    return null;
  }
}

/** " (process 123 on host x, since …)", or nothing when the holder did not say. */
function describeOwner(dir: string): string {
  const owner = readOwner(dir);
  if (!owner || typeof owner.pid !== 'number') return '';
  const host = typeof owner.host === 'string' ? ` on ${owner.host}` : '';
  const since = typeof owner.since === 'string' ? `, since ${owner.since}` : '';
  return ` (process ${owner.pid}${host}${since})`;
}

/**
 * Refuses when a live process holds `dir`'s lock (a directory without one passes): for a
 * folder inside a data directory about to be reset, such as a process fleet's.
 */
export function assertNotLocked(dir: string, staleMs = 10_000): void {
  if (!fs.existsSync(path.join(dir, LOCK_NAME))) return;
  const held = lockfile.checkSync(dir, {
    lockfilePath: path.join(dir, LOCK_NAME),
    stale: staleMs,
    realpath: false,
  });
  if (held) throw new DataDirInUseError(dir, describeOwner(dir));
}
