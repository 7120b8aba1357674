// First: the driver instrumentations must hook the drivers before they load (tracing on).
import '@ecom/common/instrument';
import fs from 'node:fs';
import path from 'node:path';
import Joi from 'joi';
import { forgetProcessSessionRevocations, processSessionRevocations } from '@ecom/common/auth';
import {
  createEventBus,
  InMemoryEventBus,
  type EventBus,
  type EventBusConfig,
} from '@ecom/common/bus';
import { busConfigKeys, loadConfig } from '@ecom/common/config';
import { createLogger, type Logger } from '@ecom/common/logging';
import { startChain, type ChainEndpoint } from './chain';
import { lockDataDir, type DataDirLockOptions } from './data-dir-lock';
import {
  dataDir,
  ensureDataDir,
  legacyChainNote,
  resetDataDir,
  assertResettable,
  REVOKED_SESSIONS_FILE,
  SEED_MARKER,
} from './data-dir';
import { adminAccount, DEMO_ACCOUNTS, demoAllowed } from './demo';
import { loadOrCreateJwtKeys } from './keys';
import { seedDemoData } from './seed';
import { startFleet, type RunningFleet } from './fleet';
import { runLauncher } from './run-launcher';
import { startMongo, startPostgres, type StoreEndpoint } from './stores';
import { startMailCapture, type MailCapture } from './mail-capture';
import { startLocalProvider, type LocalProvider } from './provider-sim';
import { chooseBus, defaultPorts, redact, type BusKind, type RunningPorts } from './launch-env';

export { chooseBus, defaultPorts, type RunningPorts } from './launch-env';

export interface Platform {
  fleet: RunningFleet;
  stop(): Promise<void>;
}

export interface StartPlatformOptions {
  env?: NodeJS.ProcessEnv;
  reset?: boolean;
  seed?: boolean;
  logger?: Logger;
  /** Printed lines (the table, "ready"); defaults to stdout. */
  print?: (line: string) => void;
  /** Service ports (default: 3000-3005) and the stand-ins' ports, for tests that run beside `npm start`. */
  ports?: RunningPorts;
  /** How the data directory's lock waits (tests shorten it). */
  lock?: Pick<DataDirLockOptions, 'staleMs' | 'waitMs'>;
}

/**
 * Starts everything `npm start` runs, in one process: stores (or their stand-ins), the chain,
 * one event bus shared by all services, the six services and the gateway, and a mail catcher. Returns once the
 * gateway answers; `stop()` closes everything in reverse order.
 */
export async function startPlatform(options: StartPlatformOptions = {}): Promise<Platform> {
  const env = options.env ?? process.env;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logLevel = env.LOG_LEVEL ?? 'warn';
  const logger = options.logger ?? createLogger('platform', logLevel);
  const dir = dataDir(env);
  const ports = options.ports ?? defaultPorts(env);
  // Before anything starts: production without its own admin is refused outright.
  adminAccount(env);
  if (options.reset) assertResettable(dir);
  ensureDataDir(dir);
  // This process's alone until it stops: a second run on it would write its stores back over
  // this one's, and a reset would delete them under it.
  const unlock = await lockDataDir(dir, {
    ...options.lock,
    onWait: print,
    onCompromised: (err) =>
      logger.error('the data directory lock was taken away', { dir, error: err.message }),
  });

  // The lock first, so it is given back last.
  const stops: { name: string; stop: () => Promise<unknown> }[] = [
    { name: 'data directory lock', stop: unlock },
  ];
  const stopAll = async () => {
    for (const { name, stop } of stops.reverse()) {
      await stop().catch((err: unknown) => logger.error('stop failed', { name, err }));
    }
    stops.length = 0;
  };

  try {
    if (options.reset) {
      resetDataDir(dir);
      ensureDataDir(dir);
    }
    const legacy = legacyChainNote(dir, env);
    if (legacy) print(legacy);
    const keys = loadOrCreateJwtKeys(dir, env);
    // Without Redis the services share this process's list of revoked sessions: it is kept in
    // the data directory, so a restart does not revive a logged-out or deleted user's tokens.
    if (!env.REDIS_URL) {
      processSessionRevocations().keepIn(path.join(dir, REVOKED_SESSIONS_FILE));
      // Last of all (stops run in reverse): once no service is left to ask it.
      stops.push({ name: 'revoked sessions', stop: async () => forgetProcessSessionRevocations() });
    }
    const [mongo, orderDb, paymentDb, notificationDb, chain] = await Promise.all([
      startMongo(dir, env, ports.mongo),
      startPostgres(dir, env, 'order_db', ports.orderDb),
      startPostgres(dir, env, 'payment_db', ports.paymentDb),
      startPostgres(dir, env, 'notification_db', ports.notificationDb),
      startChain(env, ports.chain, dir),
    ]);
    stops.push(
      { name: 'mongo', stop: () => mongo.stop() },
      { name: 'order_db', stop: () => orderDb.stop() },
      { name: 'payment_db', stop: () => paymentDb.stop() },
      { name: 'notification_db', stop: () => notificationDb.stop() },
      { name: 'chain', stop: () => chain.stop() },
    );
    // Mail goes to the embedded catcher (an inbox page), unless SMTP_HOST names a server.
    const mail = env.SMTP_HOST
      ? null
      : await startMailCapture({ smtpPort: ports.mailSmtp, httpPort: ports.mailInbox });
    if (mail) stops.push({ name: 'mail catcher', stop: () => mail.stop() });

    const busKind = chooseBus(env);
    // The one bus of the launcher takes the services' bus variables (retry budget, queue type).
    const busConfig = loadConfig(Joi.object<EventBusConfig>(busConfigKeys), {
      ...env,
      EVENT_BUS: busKind,
    });
    const bus: EventBus = createEventBus(busConfig, { service: 'platform', logger });
    stops.push({ name: 'event bus', stop: () => bus.close() });
    // The in-memory bus knows no group before it subscribes, and each service's relay sends
    // again at start what the last run may have lost (ADR 0056): nothing is routed until every
    // service has subscribed. The brokers keep their groups' queues across restarts.
    const memoryBus = bus instanceof InMemoryEventBus ? bus : undefined;
    memoryBus?.hold();

    // PAYMENT_GATEWAY=provider: the card processor simulator, unless PAYMENT_PROVIDER_URL names one.
    const provider = await startLocalProvider(env, ports.services.gateway, dir);
    if (provider) stops.push({ name: 'payment provider simulator', stop: () => provider.stop() });

    const fleet = await startFleet({
      env: provider?.env ?? env,
      logLevel,
      bus,
      keys,
      mongoUrl: mongo.url,
      orderDbUrl: orderDb.url,
      paymentDbUrl: paymentDb.url,
      notificationDbUrl: notificationDb.url,
      embeddedPostgres: orderDb.kind === 'embedded',
      ...(mail ? { smtp: { host: '127.0.0.1', port: mail.smtpPort } } : {}),
      chain,
      logger,
      ports: ports.services,
    });
    stops.push({ name: 'services', stop: () => fleet.stop() });
    memoryBus?.release();

    const seedMarker = path.join(dir, SEED_MARKER);
    if (!demoAllowed(env)) {
      print('production: no demo accounts or demo data');
    } else if (options.seed ?? !fs.existsSync(seedMarker)) {
      // Demo data is a convenience: a seed that fails is reported and the platform runs
      // without it (the next start tries again), it never stops the platform from starting.
      try {
        const summary = await seedDemoData({
          urls: fleet.urls,
          admin: adminAccount(env),
          sessionFor: fleet.sessionFor,
        });
        fs.writeFileSync(seedMarker, `${new Date().toISOString()}\n`);
        print(`seeded demo data: ${summary}`);
      } catch (err) {
        logger.warn('demo seed failed', { error: (err as Error).message });
        print(`demo data not seeded (the next start tries again): ${(err as Error).message}`);
      }
    }

    printTable(print, {
      mongo,
      orderDb,
      paymentDb,
      notificationDb,
      mail,
      provider,
      chain,
      busKind,
      fleet,
      dir,
      env,
    });
    return { fleet, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function printTable(
  print: (line: string) => void,
  s: {
    mongo: StoreEndpoint;
    orderDb: StoreEndpoint;
    paymentDb: StoreEndpoint;
    notificationDb: StoreEndpoint;
    mail: MailCapture | null;
    /** The card processor simulator (PAYMENT_GATEWAY=provider), if the launcher started it. */
    provider: LocalProvider | null;
    chain: ChainEndpoint;
    busKind: BusKind;
    fleet: RunningFleet;
    dir: string;
    env: NodeJS.ProcessEnv;
  },
): void {
  const providerRows: [string, string, string][] = s.provider
    ? [['card processor', s.provider.url, 'simulator; webhooks to /api/payments/webhooks']]
    : [];
  const rows: [string, string, string][] = [
    ['gateway', s.fleet.urls.gateway, 'API entry point, docs at /docs'],
    ['auth', s.fleet.urls.auth, 'MongoDB auth_db'],
    ['product', s.fleet.urls.product, 'MongoDB product_db'],
    ['comments', s.fleet.urls.comments, 'MongoDB comments_db'],
    ['payment', s.fleet.urls.payment, 'PostgreSQL payment_db'],
    ['order', s.fleet.urls.order, 'PostgreSQL order_db'],
    ['notification', s.fleet.urls.notification, 'PostgreSQL notification_db'],
    [
      'MongoDB',
      redact(s.mongo.url),
      s.mongo.kind === 'embedded' ? 'embedded stand-in' : 'external',
    ],
    [
      'PostgreSQL order_db',
      redact(s.orderDb.url),
      s.orderDb.kind === 'embedded' ? 'PGlite' : 'external',
    ],
    [
      'PostgreSQL payment_db',
      redact(s.paymentDb.url),
      s.paymentDb.kind === 'embedded' ? 'PGlite' : 'external',
    ],
    [
      'PostgreSQL notification_db',
      redact(s.notificationDb.url),
      s.notificationDb.kind === 'embedded' ? 'PGlite' : 'external',
    ],
    s.mail
      ? ['mail', s.mail.inboxUrl, `captured mail (inbox page); SMTP ${s.mail.smtpUrl}`]
      : ['mail', `smtp://${s.env.SMTP_HOST}:${s.env.SMTP_PORT ?? 1025}`, 'external (SMTP_HOST)'],
    ...providerRows,
    [
      'chain',
      s.chain.url,
      `${s.chain.kind}, AuditAnchor ${s.chain.contractAddress ?? '(deployed by the services)'}`,
    ],
    ['event bus', s.busKind, s.busKind === 'memory' ? 'in-process' : 'external'],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  print('');
  for (const [a, b, c] of rows) print(`  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  print('');
  const admin = adminAccount(s.env);
  print('  accounts (email / password):');
  print(
    `    ${'admin'.padEnd(8)} ${admin.email} / ${admin.demo ? admin.password : '(your ADMIN_PASSWORD)'}`,
  );
  if (demoAllowed(s.env)) {
    for (const role of ['seller', 'customer'] as const) {
      const acc = DEMO_ACCOUNTS[role];
      print(`    ${role.padEnd(8)} ${acc.email} / ${acc.password} (demo)`);
    }
  }
  print(`  data directory: ${s.dir} (npm start -- --reset wipes it)`);
  print('');
  print(`ready: ${s.fleet.urls.gateway} (Ctrl-C stops)`);
}

/** `npm start [-- --reset]`. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => !['--reset', '--seed'].includes(a));
  if (unknown.length > 0) {
    process.stderr.write(`unknown option(s): ${unknown.join(' ')} (known: --reset, --seed)\n`);
    process.exit(2);
  }
  await runLauncher({
    what: 'platform',
    start: () =>
      startPlatform({
        reset: args.includes('--reset'),
        seed: args.includes('--seed') ? true : undefined,
      }),
  });
}

if (require.main === module) void main();
