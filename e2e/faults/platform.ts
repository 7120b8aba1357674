import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateEs256KeyPair } from '@ecom/common/auth';
import { createTestPostgres, type TestPostgres } from '@ecom/infrastructure/testing';
import { freePort, removeBusNamespace, startTcpRelay, type TcpRelay } from '@ecom/test-support';
import { startEmbeddedChain, type EmbeddedChain } from '../../blockchain/src/embedded-chain';
import {
  serviceMain,
  spawnTs,
  waitListening,
  waitReady,
  type Spawned,
} from '../../platform/src/fleet-processes/spawn';
import { SERVICE_NAMES, type ServiceName } from '../../platform/src/service-env';

export type { ServiceName };
/** Start order: the gateway last. No notification service: the saga's invariants do not involve it. */
export const SERVICES = SERVICE_NAMES.filter((n) => n !== 'notification');
export type Dependency = 'postgres' | 'mongo' | 'redis' | 'chain';

export const ADMIN = { email: 'faults-admin@example.com', password: 'Fault#Injection2026' };

// Spawning and waiting for a service process is the fleet launcher's (npm run fleet).
type Running = Spawned;

/**
 * The platform as production runs it: each service and the gateway its own Node process,
 * on the real PostgreSQL, Redis and RabbitMQ of the machine, the MongoDB stand-in as its own
 * process and an embedded chain. Every store the services reach goes through a TCP relay the
 * suite owns, so an outage is a cut of that relay (connections dropped, new ones refused) and
 * the machine's servers are never stopped; RabbitMQ faults use rabbitmqctl.
 */
export class ProcessPlatform {
  readonly prefix = `faults${Date.now().toString(36)}`;
  readonly logDir = mkdtempSync(path.join(tmpdir(), 'ecom-faults-'));
  readonly keys = generateEs256KeyPair();
  ports = {} as Record<ServiceName, number>;
  orderDb!: TestPostgres;
  paymentDb!: TestPostgres;
  mongoPort = 0;
  chain!: EmbeddedChain;
  relays = {} as Record<Dependency, TcpRelay>;
  private mongo?: Running;
  private readonly running = new Map<ServiceName, Running>();
  private readonly mongoDataDir = path.join(this.logDir, 'mongo');

  constructor(readonly env: { postgresUrl: string; redisUrl: string; amqpUrl: string }) {}

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.ports.gateway}`;
  }

  url(service: ServiceName): string {
    return `http://127.0.0.1:${this.ports[service]}`;
  }

  async start(): Promise<void> {
    this.orderDb = await createTestPostgres('faults_order');
    this.paymentDb = await createTestPostgres('faults_payment');
    this.mongoPort = await freePort();
    await this.startMongo();
    this.chain = await startEmbeddedChain({ port: 0 });
    const pg = new URL(this.env.postgresUrl);
    const redis = new URL(this.env.redisUrl);
    this.relays = {
      postgres: await startTcpRelay(pg.hostname, Number(pg.port || 5432)),
      mongo: await startTcpRelay('127.0.0.1', this.mongoPort),
      redis: await startTcpRelay(redis.hostname, Number(redis.port || 6379)),
      chain: await startTcpRelay(this.chain.url),
    };
    for (const name of SERVICES) this.ports[name] = await freePort();
    // Order and payment first wait for nothing; auth seeds the admin the workload signs in as.
    for (const name of SERVICES) await this.startService(name);
  }

  /** The variables of one service: what its main.ts reads, pointed at the relays. */
  private serviceEnv(name: ServiceName): NodeJS.ProcessEnv {
    // directConnection: a replica-set member names its own address in `hello`; the driver
    // must keep talking through the relay, not discover the member behind it.
    const mongo = (db: string) =>
      this.relays.mongo.relayed(
        `mongodb://127.0.0.1:${this.mongoPort}/${db}?directConnection=true`,
      );
    const anchoring = (key: string) => ({
      BLOCKCHAIN_RPC_URL: this.relays.chain.relayed(this.chain.url),
      ANCHOR_CONTRACT_ADDRESS: this.chain.contractAddress,
      ANCHOR_PRIVATE_KEY: key,
    });
    const base: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_ENV: 'development',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      PORT: String(this.ports[name]),
      EVENT_BUS: 'rabbitmq',
      AMQP_URL: this.env.amqpUrl,
      EVENT_BUS_PREFIX: this.prefix,
      JWT_ALGORITHM: 'ES256',
      JWT_PUBLIC_KEY: this.keys.publicKey,
      SHUTDOWN_TIMEOUT_MS: '5000',
    };
    switch (name) {
      case 'auth':
        return {
          ...base,
          MONGO_URL: mongo('auth_db'),
          JWT_PRIVATE_KEY: this.keys.privateKey,
          ADMIN_EMAIL: ADMIN.email,
          ADMIN_PASSWORD: ADMIN.password,
          BCRYPT_ROUNDS: '4',
        };
      case 'product':
        return {
          ...base,
          MONGO_URL: mongo('product_db'),
          REDIS_URL: this.relays.redis.relayed(this.env.redisUrl),
          CACHE_KEY_PREFIX: `${this.prefix}:`,
          RESERVATION_CHECK_AFTER_MS: '30000',
          RESERVATION_CHECK_INTERVAL_MS: '2000',
        };
      case 'comments':
        return {
          ...base,
          MONGO_URL: mongo('comments_db'),
          PRODUCT_SERVICE_URL: this.url('product'),
        };
      case 'payment':
        return {
          ...base,
          DATABASE_URL: this.relays.postgres.relayed(this.paymentDb.url),
          ORDER_SERVICE_URL: this.url('order'),
          RECONCILE_INTERVAL_MS: '2000',
          RECONCILE_AFTER_MS: '5000',
          ...anchoring(this.chain.anchorerKeys[0]),
        };
      case 'order':
        return {
          ...base,
          DATABASE_URL: this.relays.postgres.relayed(this.orderDb.url),
          PRODUCT_SERVICE_URL: this.url('product'),
          AUTH_SERVICE_URL: this.url('auth'),
          // Production's bounds for giving up on an order (minutes): an outage must not fail it.
          SWEEP_INTERVAL_MS: '2000',
          PAYMENT_OVERDUE_MS: '20000',
          ...anchoring(this.chain.anchorerKeys[1]),
        };
      case 'gateway':
        return {
          ...base,
          REDIS_URL: this.relays.redis.relayed(this.env.redisUrl),
          RATE_LIMIT_POINTS: '1000000',
          RATE_LIMIT_AUTH_POINTS: '1000000',
          RATE_LIMIT_PAYMENT_POINTS: '1000000',
          AUTH_SERVICE_URL: this.url('auth'),
          PRODUCT_SERVICE_URL: this.url('product'),
          COMMENTS_SERVICE_URL: this.url('comments'),
          PAYMENT_SERVICE_URL: this.url('payment'),
          ORDER_SERVICE_URL: this.url('order'),
        };
      case 'notification':
        throw new Error('the fault platform runs no notification service');
    }
  }

  async startService(name: ServiceName): Promise<void> {
    const running = spawnTs(name, serviceMain(name), [], this.serviceEnv(name), this.logDir);
    this.running.set(name, running);
    await waitReady(running, this.url(name), 90_000);
  }

  /** kill -9, then (after `downMs`) a fresh process of the same service. */
  async crash(name: ServiceName, downMs = 1000): Promise<void> {
    const running = this.running.get(name);
    running?.child.kill('SIGKILL');
    await running?.exited;
    await sleep(downMs);
    await this.startService(name);
  }

  /** Whether every process is still alive (none died of a fault it should have survived). */
  deadProcesses(): string[] {
    const dead = [...this.running].filter(
      ([, r]) => r.child.exitCode !== null || r.child.signalCode,
    );
    return dead.map(([name, r]) => `${name} (exit ${r.child.exitCode ?? r.child.signalCode})`);
  }

  /** Cuts a dependency for `ms`: every connection to it dropped, new ones refused. */
  async outage(dependency: Dependency, ms: number): Promise<void> {
    this.relays[dependency].cut();
    await sleep(ms);
    this.relays[dependency].restore();
  }

  private async startMongo(): Promise<void> {
    this.mongo = spawnTs(
      'mongo',
      'infrastructure/src/mongo/cli.ts',
      ['--port', String(this.mongoPort), '--data-dir', this.mongoDataDir],
      { PATH: process.env.PATH },
      this.logDir,
    );
    await waitListening(this.mongo, this.mongoPort, 30_000);
  }

  /** kill -9 of the MongoDB stand-in, then a new one on the same data directory. */
  async crashMongo(downMs = 2000): Promise<void> {
    this.mongo?.child.kill('SIGKILL');
    await this.mongo?.exited;
    await sleep(downMs);
    await this.startMongo();
  }

  async stop(): Promise<void> {
    for (const name of [...SERVICES].reverse()) {
      const running = this.running.get(name);
      if (!running || running.child.exitCode !== null) continue;
      running.child.kill('SIGTERM');
      await Promise.race([running.exited, sleep(8000)]);
      running.child.kill('SIGKILL');
    }
    this.mongo?.child.kill('SIGKILL');
    for (const relay of Object.values(this.relays)) await relay.close();
    await removeBusNamespace('rabbitmq', this.env.amqpUrl, this.prefix);
    await removeBusNamespace('redis', this.env.redisUrl, this.prefix);
    await this.chain?.stop();
    await this.orderDb?.cleanup();
    await this.paymentDb?.cleanup();
  }

  removeLogs(): void {
    rmSync(this.logDir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
