import { parseArgs } from 'node:util';
import { PORTS } from '../demo';
import { SERVICE_NAMES, type ServiceName } from '../service-env';

/** How many processes of each service (and of the gateway) the fleet runs. */
export type ReplicaCounts = Record<ServiceName, number>;

export const MAX_REPLICAS = 9;

export interface FleetArgs {
  replicas: ReplicaCounts;
  /** Names the fleet's databases (`<namespace>_order`, `_payment`, `_notification`) and bus prefix. */
  namespace?: string;
  seed: boolean;
}

export class FleetUsageError extends Error {}

export const FLEET_USAGE = [
  'usage: npm run fleet -- [--replicas N] [--gateways N] [--<service> N] [--namespace NAME] [--no-seed]',
  `  --replicas N    processes per service (default 1, at most ${MAX_REPLICAS})`,
  '  --gateways N    gateway processes (default 1)',
  "  --auth N, --product N, --comments N, --payment N, --order N, --notification N    one service's count",
  '  --namespace N   databases <N>_order / <N>_payment / <N>_notification and bus prefix N (default ecom_fleet)',
  '  --no-seed       skip the demo data',
].join('\n');

function count(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) {
    throw new FleetUsageError(
      `--${option} must be a whole number from 1 to ${MAX_REPLICAS}, got "${value}"`,
    );
  }
  return n;
}

/** `npm run fleet -- ...` options; a FleetUsageError names what is wrong. */
export function parseFleetArgs(argv: string[]): FleetArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        replicas: { type: 'string' },
        gateways: { type: 'string' },
        auth: { type: 'string' },
        product: { type: 'string' },
        comments: { type: 'string' },
        payment: { type: 'string' },
        order: { type: 'string' },
        notification: { type: 'string' },
        namespace: { type: 'string' },
        'no-seed': { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new FleetUsageError((err as Error).message);
  }
  const all = count('replicas', values.replicas as string | undefined, 1);
  const replicas = Object.fromEntries(
    SERVICE_NAMES.map((name) =>
      name === 'gateway'
        ? [name, count('gateways', values.gateways as string | undefined, 1)]
        : [name, count(name, values[name] as string | undefined, all)],
    ),
  ) as ReplicaCounts;
  const namespace = values.namespace as string | undefined;
  if (namespace !== undefined && !/^[a-z][a-z0-9_]{0,40}$/.test(namespace)) {
    throw new FleetUsageError(
      `--namespace must be lower-case letters, digits and _ (a database name), got "${namespace}"`,
    );
  }
  return { replicas, namespace, seed: !values['no-seed'] };
}

/**
 * The documented port of replica `index` (0-based) of a service: the service's port of
 * `npm start` plus 10 per replica (order: 3005, 3015, 3025; gateways: 3000, 3010, ...).
 */
export function documentedPort(name: ServiceName, index: number): number {
  return PORTS[name] + 10 * index;
}

/** Ports for every replica, from `portOf(name, index)`. */
export async function assignPorts(
  replicas: ReplicaCounts,
  portOf: (name: ServiceName, index: number) => number | Promise<number>,
): Promise<Record<ServiceName, number[]>> {
  const ports = {} as Record<ServiceName, number[]>;
  for (const name of SERVICE_NAMES) {
    ports[name] = [];
    for (let i = 0; i < replicas[name]; i++) ports[name].push(await portOf(name, i));
  }
  return ports;
}
