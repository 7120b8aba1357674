import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Client as PgClient } from 'pg';
import { sleep } from './platform';

// Real restarts of the machine's servers (not relays): what an operator's `systemctl restart`
// or a crash and restart does. They touch every user of the server, so the suite runs last.

const run = promisify(execFile);

async function until(what: string, probe: () => Promise<unknown>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await probe();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await sleep(250);
    }
  }
}

/** `pg_ctlcluster <version> <cluster> restart -m fast` for the cluster serving `url`'s port. */
export async function restartPostgres(url: string): Promise<void> {
  const port = new URL(url).port || '5432';
  const { stdout } = await run('pg_lsclusters', ['--no-header']);
  const cluster = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((cols) => cols[2] === port);
  if (!cluster) throw new Error(`no PostgreSQL cluster on port ${port} (pg_lsclusters)`);
  // -m fast: open sessions are terminated ("terminating connection due to administrator command").
  await run('pg_ctlcluster', [cluster[0]!, cluster[1]!, 'restart', '-m', 'fast'], {
    timeout: 60_000,
  });
  await until('PostgreSQL back after restart', async () => {
    const client = new PgClient({ connectionString: url });
    await client.connect();
    await client.end();
  });
}

/**
 * Shuts Redis down (SHUTDOWN: it saves only if configured to, as a restart would) and starts
 * it again `downMs` later with the settings it ran with.
 */
export async function restartRedis(url: string, downMs: number): Promise<void> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  await admin.connect();
  const setting = async (name: string) =>
    ((await admin.call('CONFIG', 'GET', name)) as string[])[1] ?? '';
  const args = ['--daemonize', 'yes', '--port', await setting('port')];
  const bind = await setting('bind');
  if (bind) args.push('--bind', ...bind.split(' '));
  args.push('--dir', await setting('dir'));
  args.push('--save', await setting('save'));
  args.push('--appendonly', await setting('appendonly'));
  const logfile = await setting('logfile');
  if (logfile) args.push('--logfile', logfile);
  await admin.call('SHUTDOWN').catch(() => undefined); // the connection drops as it stops
  admin.disconnect();
  await sleep(downMs);
  await new Promise<void>((resolve, reject) => {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`redis-server exited ${code}`)),
    );
  });
  await until('Redis back after restart', async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await probe.connect();
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  });
}
