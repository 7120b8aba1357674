import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { repoRoot } from '../data-dir';
import type { ServiceName } from '../service-env';

// One process per service (tsx's CLI would run the service in a child of its own, which a
// kill -9 of the CLI leaves running): Node with tsx as a loader and the repository's alias
// map, plus the watch that stops the process when its launcher goes away.
const NODE_ARGS = [
  '--import',
  'tsx',
  '--import',
  path.join(repoRoot, 'platform/src/fleet-processes/parent-watch.ts'),
];
const TSX_ENV = { TSX_TSCONFIG_PATH: path.join(repoRoot, 'platform/tsconfig.run.json') };

/** A process the launcher started: its output goes to `logFile`. */
export interface Spawned {
  label: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves once the process has exited (by itself or killed). */
  exited: Promise<void>;
  /** Whether the process has exited. */
  readonly dead: boolean;
}

/** The entry point of a service or the gateway: the same main.ts a container runs. */
export function serviceMain(name: ServiceName): string {
  return name === 'gateway' ? 'gateway/src/main.ts' : `services/${name}/src/main.ts`;
}

/**
 * Runs a TypeScript entry point (relative to the repository) as its own Node process, output
 * appended to `<logDir>/<label>.log`. The process has an IPC channel to this one only so it
 * notices when this process is gone (see parent-watch.ts).
 */
export function spawnTs(
  label: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
): Spawned {
  const logFile = path.join(logDir, `${label}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [...NODE_ARGS, script, ...args], {
    cwd: repoRoot,
    env: { ...env, ...TSX_ENV },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Its own process group: a Ctrl-C in the terminal reaches the launcher only, which stops
    // the gateways before the services.
    detached: true,
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  // The channel is for the child's sake; it must not keep this process alive either.
  child.channel?.unref();
  let dead = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      dead = true;
      log.end();
      resolve();
    }),
  );
  // A failed spawn (no pid) surfaces as an exit; waitReady reports it with the log's path.
  child.once('error', () => undefined);
  return {
    label,
    child,
    pid: child.pid ?? -1,
    logFile,
    exited,
    get dead() {
      return dead || child.exitCode !== null || child.signalCode !== null;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The last lines of a log, for an error message. */
async function tail(file: string, lines = 5): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** Waits until `url`/health/ready answers 200; fails early when the process exits. */
export async function waitReady(p: Spawned, url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.dead) {
      throw new Error(
        `${p.label} exited during start (log: ${p.logFile})\n${await tail(p.logFile)}`,
      );
    }
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(250);
  }
  throw new Error(`${p.label} not ready after ${timeoutMs / 1000} s (log: ${p.logFile})`);
}

/** Whether something accepts TCP connections on host:port (within `timeoutMs`). */
export function tcpOpen(host: string, port: number, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error: string | null) => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/** Waits until the process listens on `port` (for processes without /health/ready). */
export async function waitListening(p: Spawned, port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.dead) throw new Error(`${p.label} exited during start (log: ${p.logFile})`);
    if ((await tcpOpen('127.0.0.1', port, 500)) === null) return;
    await sleep(100);
  }
  throw new Error(`${p.label} not listening on ${port} after ${timeoutMs / 1000} s`);
}

/** kill -9, resolved once the process is gone. */
export async function kill9(p: Spawned): Promise<void> {
  if (!p.dead) p.child.kill('SIGKILL');
  await p.exited;
}

/**
 * SIGTERM to every process at once (each drains and closes on its own), then SIGKILL to any
 * still running after `graceMs`; resolves once all have exited.
 */
export async function stopAll(processes: Spawned[], graceMs = 15_000): Promise<void> {
  const alive = processes.filter((p) => !p.dead);
  for (const p of alive) p.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(alive.map((p) => p.exited)),
    new Promise((resolve) => (timer = setTimeout(resolve, graceMs))),
  ]);
  clearTimeout(timer);
  for (const p of alive) if (!p.dead) p.child.kill('SIGKILL');
  await Promise.all(alive.map((p) => p.exited));
}
