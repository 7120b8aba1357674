import fs from 'node:fs';
import path from 'node:path';
import { startChain, type ChainEndpoint } from '../chain';
import { dataDir as defaultDataDir, ensureDataDir } from '../data-dir';
import { lockDataDir } from '../data-dir-lock';
import { adminAccount, demoAllowed } from '../demo';
import { loadOrCreateJwtKeys } from '../keys';
import { httpLogin, seedDemoData } from '../seed';
import { SERVICE_NAMES, serviceEnv, type FleetContext, type ServiceName } from '../service-env';
import { chooseBus, defaultPorts, redact } from '../launch-env';
import { startPostgres } from '../stores';
import { startMailCapture, type MailCapture } from '../mail-capture';
import { assignPorts, documentedPort, type ReplicaCounts } from './plan';
import {
  kill9,
  serviceMain,
  spawnTs,
  stopAll,
  tcpOpen,
  waitListening,
  waitReady,
  type Spawned,
} from './spawn';

/** The machine's own servers, used when the variable is not set. */
export const DEFAULT_SERVERS = {
  POSTGRES_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: 'redis://127.0.0.1:6379',
  AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
} as const;

const SERVER_NAMES: Record<keyof typeof DEFAULT_SERVERS | 'MONGO_URL', string> = {
  POSTGRES_URL: 'PostgreSQL',
  REDIS_URL: 'Redis',
  AMQP_URL: 'RabbitMQ',
  MONGO_URL: 'MongoDB',
};
const DEFAULT_PORT: Record<string, number> = {
  'postgres:': 5432,
  'postgresql:': 5432,
  'redis:': 6379,
  'rediss:': 6379,
  'amqp:': 5672,
  'amqps:': 5671,
  'mongodb:': 27017,
};

/**
 * Fails with one line naming the first server (of those the fleet needs) that does not
 * accept connections, and the variable that points at it.
 */
export async function checkServers(env: NodeJS.ProcessEnv): Promise<void> {
  const needed = Object.keys(SERVER_NAMES).filter(
    (k) => k !== 'MONGO_URL' || env.MONGO_URL,
  ) as (keyof typeof SERVER_NAMES)[];
  const problems = await Promise.all(
    needed.map(async (variable) => {
      const raw = env[variable]!;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return `${variable} is not a URL: ${redact(raw)}`;
      }
      // A MongoDB URL may list several hosts; the first one answering is enough to go on.
      const host = url.hostname || '127.0.0.1';
      const port = Number(url.port || DEFAULT_PORT[url.protocol] || 0);
      const error = await tcpOpen(host, port, 3000);
      return error
        ? `${SERVER_NAMES[variable]} unreachable at ${redact(raw)} (${error}): start it or set ${variable}`
        : null;
    }),
  );
  const first = problems.find(Boolean);
  if (first) throw new Error(first);
}

/** One process of a service or of the gateway. */
export interface Replica {
  service: ServiceName;
  /** 1-based, as printed: order#2. */
  number: number;
  label: string;
  port: number;
  url: string;
  process: Spawned;
}

/** The services with a PostgreSQL database of their own, each `<namespace>_<service>`. */
export const FLEET_DATABASES = ['order', 'payment', 'notification'] as const;

/** The databases a fleet of `namespace` creates: what its owner drops when done with it. */
export function fleetDatabaseNames(namespace: string): string[] {
  return FLEET_DATABASES.map((service) => `${namespace}_${service}`);
}

export interface ProcessFleetOptions {
  replicas: ReplicaCounts;
  env?: NodeJS.ProcessEnv;
  /** Databases (fleetDatabaseNames), bus prefix and Redis key prefixes. */
  namespace?: string;
  seed?: boolean;
  /** Port of each replica; defaults to the documented ones (see documentedPort). */
  portOf?: (name: ServiceName, index: number) => number | Promise<number>;
  /** The MongoDB stand-in's and the embedded chain's ports (defaults: MONGO_PORT, CHAIN_PORT). */
  mongoPort?: number;
  chainPort?: number;
  /** Where the stand-in's data, the JWT keys and the logs go (default: the data directory). */
  dataDir?: string;
  print?: (line: string) => void;
}

export interface ProcessFleet {
  namespace: string;
  replicas: Record<ServiceName, Replica[]>;
  gatewayUrls: string[];
  mongoUrl: string;
  orderDbUrl: string;
  paymentDbUrl: string;
  notificationDbUrl: string;
  /** The embedded mail catcher's inbox page (null with SMTP_HOST). */
  mailInboxUrl: string | null;
  chain: ChainEndpoint;
  busKind: string;
  logDir: string;
  /** Every process the launcher runs (replicas and the MongoDB stand-in). */
  processes(): Spawned[];
  /** kill -9 of one replica (it stays down; the others carry on). */
  kill(replica: Replica): Promise<void>;
  stop(): Promise<void>;
}

/** Adds `application_name` so pg_stat_activity tells which replica holds a connection. */
function withApplicationName(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', name);
  return url.toString();
}

/**
 * Starts the platform as production runs it, several processes per service: every replica
 * and every gateway is its own Node process on its own port, on real PostgreSQL (the fleet's
 * own order and payment databases), Redis and RabbitMQ, MongoDB (MONGO_URL or the stand-in as
 * its own process) and a chain (BLOCKCHAIN_RPC_URL or the embedded one in this process). The
 * gateways and service clients get every replica's URL and balance across them.
 */
export async function startProcessFleet(o: ProcessFleetOptions): Promise<ProcessFleet> {
  const env: NodeJS.ProcessEnv = { ...DEFAULT_SERVERS, ...(o.env ?? process.env) };
  const namespace = o.namespace ?? env.FLEET_NAMESPACE ?? 'ecom_fleet';
  const print = o.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const busKind = chooseBus(env);
  if (busKind === 'memory') {
    throw new Error('EVENT_BUS=memory cannot join processes: use rabbitmq (AMQP_URL) or redis');
  }
  adminAccount(env);
  await checkServers(env);

  const dir = o.dataDir ?? path.join(defaultDataDir(env), `fleet-${namespace}`);
  ensureDataDir(dir);
  // One fleet per directory: a second would share its stand-in's files and its chain journal.
  const unlock = await lockDataDir(dir, {
    onWait: print,
    onCompromised: (err) => print(`the data directory lock was taken away: ${err.message}`),
  });
  const logDir = path.join(dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const ports = await assignPorts(o.replicas, o.portOf ?? documentedPort);
  const documented = defaultPorts(env);

  const processes: Spawned[] = [];
  let chain: ChainEndpoint | undefined;
  let mail: MailCapture | null = null;
  const stopEverything = async () => {
    // Gateways first (no new requests), then the services, then the stand-in and the chain.
    const gateways = processes.filter((p) => p.label.startsWith('gateway'));
    await stopAll(gateways);
    await stopAll(processes.filter((p) => !gateways.includes(p) && p.label !== 'mongo'));
    await stopAll(processes);
    await chain?.stop();
    await mail?.stop();
    await unlock();
  };

  try {
    const keys = loadOrCreateJwtKeys(dir, env);
    const mongo = async (): Promise<string> => {
      if (env.MONGO_URL) return env.MONGO_URL;
      const port = o.mongoPort ?? documented.mongo;
      const standIn = spawnTs(
        'mongo',
        'infrastructure/src/mongo/cli.ts',
        ['--port', String(port), '--data-dir', path.join(dir, 'mongo')],
        {
          PATH: env.PATH,
          // A benchmark's CPU profiler (platform/bench/cpu-profile-preload.cjs) covers it too.
          ...(env.CPU_PROFILE_DIR
            ? { CPU_PROFILE_DIR: env.CPU_PROFILE_DIR, NODE_OPTIONS: env.NODE_OPTIONS }
            : {}),
        },
        logDir,
      );
      processes.push(standIn);
      await waitListening(standIn, port);
      return `mongodb://127.0.0.1:${port}/?directConnection=true`;
    };
    const database = async (service: (typeof FLEET_DATABASES)[number]) =>
      (await startPostgres(dir, { POSTGRES_URL: env.POSTGRES_URL }, `${namespace}_${service}`, 0))
        .url;
    // Without POSTGRES_URL, each database is a PGlite stand-in (stores.ts).
    const embeddedPostgres = !env.POSTGRES_URL;
    const [mongoUrl, orderDbUrl, paymentDbUrl, notificationDbUrl] = await Promise.all([
      mongo(),
      database('order'),
      database('payment'),
      database('notification'),
    ]);
    // Mail goes to a catcher in this process (an inbox page), unless SMTP_HOST names a server.
    mail = env.SMTP_HOST ? null : await startMailCapture({ smtpPort: 0, httpPort: 0 });
    chain = await startChain(env, o.chainPort ?? documented.chain, dir);

    const urlOf = (port: number) => `http://127.0.0.1:${port}`;
    const context: FleetContext = {
      env,
      logLevel: env.LOG_LEVEL ?? 'warn',
      keys,
      mongoUrl,
      orderDbUrl,
      paymentDbUrl,
      notificationDbUrl,
      embeddedPostgres,
      ...(mail ? { smtp: { host: '127.0.0.1', port: mail.smtpPort } } : {}),
      chain,
      urls: Object.fromEntries(
        SERVICE_NAMES.map((n) => [n, ports[n].map(urlOf)]),
      ) as FleetContext['urls'],
      shared: {
        EVENT_BUS: busKind,
        EVENT_BUS_PREFIX: namespace,
        // One cache and one set of rate-limit counters per fleet, shared by its replicas.
        CACHE_KEY_PREFIX: `${namespace}:product:`,
        GATEWAY_KEY_PREFIX: `${namespace}:gw`,
      },
    };

    const replicas = Object.fromEntries(SERVICE_NAMES.map((n) => [n, []])) as unknown as Record<
      ServiceName,
      Replica[]
    >;
    const launch = async (service: ServiceName, index: number) => {
      const label = `${service}-${index + 1}`;
      const port = ports[service][index]!;
      const variables = serviceEnv(service, port, context);
      if (variables.DATABASE_URL) {
        variables.DATABASE_URL = withApplicationName(variables.DATABASE_URL, label);
      }
      const p = spawnTs(label, serviceMain(service), [], variables, logDir);
      processes.push(p);
      const replica = { service, number: index + 1, label, port, url: urlOf(port), process: p };
      replicas[service].push(replica);
      await waitReady(p, replica.url);
    };
    const services = SERVICE_NAMES.filter((n) => n !== 'gateway');
    // The first replica of each service alone (first-start work: admin account, migrations,
    // contract checks), then the other replicas, then the gateways.
    await Promise.all(services.map((n) => launch(n, 0)));
    await Promise.all(services.flatMap((n) => ports[n].slice(1).map((_, i) => launch(n, i + 1))));
    await Promise.all(ports.gateway.map((_, i) => launch('gateway', i)));
    for (const list of Object.values(replicas)) list.sort((a, b) => a.number - b.number);

    if (demoAllowed(env) && (o.seed ?? true)) {
      try {
        const summary = await seedDemoData({
          urls: {
            auth: replicas.auth[0]!.url,
            product: replicas.product[0]!.url,
            comments: replicas.comments[0]!.url,
          },
          admin: adminAccount(env),
          sessionFor: httpLogin(replicas.auth[0]!.url),
        });
        print(`seeded demo data: ${summary}`);
      } catch (err) {
        print(`demo data not seeded: ${(err as Error).message}`);
      }
    }

    const fleet: ProcessFleet = {
      namespace,
      replicas,
      gatewayUrls: replicas.gateway.map((r) => r.url),
      mongoUrl,
      orderDbUrl,
      paymentDbUrl,
      notificationDbUrl,
      mailInboxUrl: mail?.inboxUrl ?? null,
      chain,
      busKind,
      logDir,
      processes: () => [...processes],
      kill: (replica) => kill9(replica.process),
      stop: stopEverything,
    };
    printFleetTable(print, fleet, env);
    return fleet;
  } catch (err) {
    await stopEverything();
    throw err;
  }
}

const ROLE: Record<ServiceName, string> = {
  gateway: 'API entry point, docs at /docs',
  auth: 'MongoDB auth_db',
  product: 'MongoDB product_db',
  comments: 'MongoDB comments_db',
  payment: 'PostgreSQL <ns>_payment',
  order: 'PostgreSQL <ns>_order',
  notification: 'PostgreSQL <ns>_notification',
};

/** What runs where: one line per process, then the servers, as `npm start` prints. */
export function printFleetTable(
  print: (line: string) => void,
  f: ProcessFleet,
  env: NodeJS.ProcessEnv,
): void {
  const rows: [string, string, string][] = [];
  for (const name of ['gateway', ...SERVICE_NAMES.filter((n) => n !== 'gateway')] as const) {
    for (const r of f.replicas[name]) {
      rows.push([
        `${name}#${r.number}`,
        r.url,
        `pid ${r.process.pid}, ${ROLE[name].replace('<ns>', f.namespace)}`,
      ]);
    }
  }
  const mongo = f.processes().find((p) => p.label === 'mongo');
  rows.push(
    ['MongoDB', redact(f.mongoUrl), mongo ? `stand-in, pid ${mongo.pid}` : 'external (MONGO_URL)'],
    ['PostgreSQL', redact(f.orderDbUrl), 'order database'],
    ['PostgreSQL', redact(f.paymentDbUrl), 'payment database'],
    ['PostgreSQL', redact(f.notificationDbUrl), 'notification database'],
    f.mailInboxUrl
      ? ['mail', f.mailInboxUrl, 'captured mail (inbox page), in the launcher']
      : ['mail', `smtp://${env.SMTP_HOST}:${env.SMTP_PORT ?? 1025}`, 'external (SMTP_HOST)'],
    [
      'chain',
      f.chain.url,
      `${f.chain.kind === 'embedded' ? 'embedded, in the launcher' : 'external'}, AuditAnchor ${f.chain.contractAddress ?? '(deployed by the services)'}`,
    ],
    [
      'event bus',
      redact(f.busKind === 'rabbitmq' ? env.AMQP_URL! : env.REDIS_URL!),
      `${f.busKind}, prefix ${f.namespace}`,
    ],
    ['Redis', redact(env.REDIS_URL!), 'product cache, gateway rate limits'],
  );
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  print('');
  for (const [a, b, c] of rows) print(`  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  print('');
  print(`  logs: ${f.logDir}`);
  print('');
  print(`ready: ${f.gatewayUrls.join(', ')} (Ctrl-C stops)`);
}
