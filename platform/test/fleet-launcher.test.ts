import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort } from '@ecom/test-support';
import { checkServers } from '../src/fleet-processes/launcher';
import {
  assignPorts,
  documentedPort,
  FleetUsageError,
  parseFleetArgs,
} from '../src/fleet-processes/plan';
import { SERVICE_NAMES } from '../src/service-env';
import { tempDataDir } from './support';

const ROOT = path.resolve(__dirname, '../..');

describe('npm run fleet options', () => {
  it('takes one count for every service, the gateways and per-service counts apart', () => {
    expect(parseFleetArgs([]).replicas).toEqual({
      auth: 1,
      product: 1,
      comments: 1,
      payment: 1,
      order: 1,
      notification: 1,
      gateway: 1,
    });
    expect(parseFleetArgs(['--replicas', '2', '--gateways', '3', '--order', '4']).replicas).toEqual(
      { auth: 2, product: 2, comments: 2, payment: 2, order: 4, notification: 2, gateway: 3 },
    );
    expect(parseFleetArgs(['--no-seed', '--namespace', 'shop_a'])).toMatchObject({
      seed: false,
      namespace: 'shop_a',
    });
  });

  it.each([
    [['--replicas', '0'], '--replicas must be a whole number from 1 to 9, got "0"'],
    [['--payment', '1.5'], '--payment must be a whole number from 1 to 9, got "1.5"'],
    [['--gateways', '10'], '--gateways must be a whole number from 1 to 9, got "10"'],
    [['--namespace', 'Drop Table'], '--namespace must be lower-case letters'],
    [['--replica', '2'], "Unknown option '--replica'"],
  ])('refuses %j with a message naming the option', (args, message) => {
    expect(() => parseFleetArgs(args)).toThrow(FleetUsageError);
    expect(() => parseFleetArgs(args)).toThrow(message);
  });

  it('gives every replica of every service its own documented port', async () => {
    const ports = await assignPorts(
      { auth: 9, product: 9, comments: 9, payment: 9, order: 9, notification: 9, gateway: 9 },
      documentedPort,
    );
    const all = SERVICE_NAMES.flatMap((n) => ports[n]);
    expect(new Set(all).size).toBe(63);
    expect(ports.gateway.slice(0, 2)).toEqual([3000, 3010]);
    expect(ports.order.slice(0, 3)).toEqual([3005, 3015, 3025]);
  });
});

describe('the fleet launcher', () => {
  it('names the server it cannot reach and the variable to set, in one line', async () => {
    // A port nothing listens on: bound, then closed.
    const closed = await freePort();
    const env = {
      POSTGRES_URL: process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      REDIS_URL: `redis://127.0.0.1:${closed}`,
      AMQP_URL: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    };
    await expect(checkServers(env)).rejects.toThrow(
      `Redis unreachable at redis://127.0.0.1:${closed} (ECONNREFUSED): start it or set REDIS_URL`,
    );
    await expect(checkServers({ ...env, REDIS_URL: 'not a url' })).rejects.toThrow(
      'REDIS_URL is not a URL',
    );
  });

  it('leaves no process behind when the launcher itself is killed -9', async () => {
    const dir = tempDataDir('fleet-orphan');
    const port = await freePort();
    // A launcher that starts the MongoDB stand-in as the fleet does, prints its pid and waits.
    const script = `
      const { spawnTs, waitListening } = require('./platform/src/fleet-processes/spawn.ts');
      const p = spawnTs('mongo', 'infrastructure/src/mongo/cli.ts', ['--port', '${port}'], { PATH: process.env.PATH }, ${JSON.stringify(dir)});
      waitListening(p, ${port}).then(() => console.log('child ' + p.pid));
      setInterval(() => undefined, 1000);
    `;
    const launcher = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const childPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      launcher.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /child (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      launcher.once('exit', (code) => reject(new Error(`launcher exited ${code}: ${out}`)));
    });
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive(childPid)).toBe(true);
    launcher.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    while (alive(childPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(childPid)).toBe(false);
    // And its port is free again.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(!s.destroy()));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
