/**
 * The monitor module (blockchain/src/monitor.ts) reads deployment and promise files with
 * node:fs in its command-line entry points; the page uses only its pure core and fetching, so
 * the bundle gets this stand-in instead of Node's file system.
 */
export function readFileSync(): never {
  throw new Error('no file system in the browser');
}
