import fs from 'node:fs';
import path from 'node:path';
import { assertNotLocked, LOCK_NAME, LOCK_OWNER_FILE } from './data-dir-lock';

/** Repository root (platform/src or platform/dist → two levels up). */
export const repoRoot = path.resolve(__dirname, '..', '..');

/** Where the embedded stores keep their files: DATA_DIR or `.data/` at the repository root. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DATA_DIR ?? path.join(repoRoot, '.data'));
}

/** Marks a directory as the platform's: only such a directory is ever reset. */
export const DATA_MARKER = '.ecom-data';

/** Where the embedded chain keeps its journal, genesis and keys, in the data directory. */
export const CHAIN_DIR = 'chain';
/** Written once the demo data was seeded (a first start). */
export const SEED_MARKER = 'seeded';

/** The one-process platform's revoked sessions (when no Redis holds them), in the data directory. */
export const REVOKED_SESSIONS_FILE = 'revoked-sessions.json';

/** Refuses to reset a directory that does not look like our data directory. */
export function assertResettable(dir: string): void {
  if (fs.existsSync(dir) && !fs.existsSync(path.join(dir, DATA_MARKER))) {
    throw new Error(
      `${dir} is not a platform data directory (no ${DATA_MARKER} marker); not deleting it`,
    );
  }
}

/**
 * Empties the data directory, which the caller has locked (`lockDataDir`): everything but the
 * lock goes, so no other start can take the directory between the wipe and this one's stores.
 */
export function resetDataDir(dir: string): void {
  assertResettable(dir);
  if (!fs.existsSync(dir)) return;
  // A process fleet keeps its own folder here, under a lock of its own.
  for (const name of fs.readdirSync(dir)) assertNotLocked(path.join(dir, name));
  for (const name of fs.readdirSync(dir)) {
    // The marker stays too: the directory is still the platform's, and may be reset again.
    if (name === LOCK_NAME || name === LOCK_OWNER_FILE || name === DATA_MARKER) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/**
 * What to tell the operator of a data directory written before the embedded chain was kept in it
 * (ADR 0057): seeded, but no `chain/`. Its chain starts anew under new keys and every record is
 * anchored again, but the promises it gave were signed with Hardhat's public keys, so they now
 * read as not this service's. Null for any other directory, or with an external chain.
 */
export function legacyChainNote(dir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.BLOCKCHAIN_RPC_URL) return null;
  if (!fs.existsSync(path.join(dir, SEED_MARKER)) || fs.existsSync(path.join(dir, CHAIN_DIR))) {
    return null;
  }
  return (
    `note: ${dir} was written before the embedded chain was kept in it: the chain starts anew ` +
    'with keys of its own and every record is anchored again, but the promises given before ' +
    "were signed with Hardhat's public keys and now read as not this service's (TAMPERED). " +
    '`npm start -- --reset` starts clean.'
  );
}

export function ensureDataDir(dir: string): void {
  try {
    // Stores, keys and journals live here: only the owner may enter (whatever the files' modes).
    makeDirectories(dir);
    fs.chmodSync(dir, 0o700);
    fs.writeFileSync(
      path.join(dir, DATA_MARKER),
      'Data of the embedded platform run (npm start).\n',
    );
  } catch (err) {
    // The OS names a syscall and a path (often a parent's): say which setting to change.
    const { code } = err as NodeJS.ErrnoException;
    throw new Error(
      `the data directory ${dir} cannot be created or written (${code ?? (err as Error).message}); ` +
        'set DATA_DIR to a directory this user can write',
    );
  }
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir never returns where a missing parent
 * cannot be made (it spins on ENOENT under /proc, for one), and a start must fail, not hang.
 */
function makeDirectories(dir: string): void {
  const missing: string[] = [];
  let at = dir;
  while (!fs.existsSync(at)) {
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) fs.mkdirSync(level, { mode: 0o700 });
}
