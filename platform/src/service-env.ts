import path from 'node:path';
import type { ChainEndpoint } from './chain';
import { dataDir } from './data-dir';
import { adminAccount, PORTS } from './demo';
import type { JwtKeys } from './keys';
import { mongoDatabaseUrl } from './stores';

export type ServiceName = keyof typeof PORTS;

/** Start order of the fleet: the gateway last, once every service it routes to answers. */
export const SERVICE_NAMES: ServiceName[] = [
  'auth',
  'product',
  'comments',
  'payment',
  'order',
  'notification',
  'gateway',
];

/** What a launcher decided for the whole fleet; each service's variables are derived from it. */
export interface FleetContext {
  /** The launcher's environment: every variable not naming one service's resources is passed on. */
  env: NodeJS.ProcessEnv;
  logLevel: string;
  keys: JwtKeys;
  mongoUrl: string;
  orderDbUrl: string;
  paymentDbUrl: string;
  notificationDbUrl: string;
  /** The SMTP server the notification service sends through (the embedded catcher's), if any. */
  smtp?: { host: string; port: number };
  chain: Pick<ChainEndpoint, 'url' | 'kind' | 'contractAddress' | 'anchorerKeys'>;
  /** Base URLs of each service's replicas (one in `npm start`, several in `npm run fleet`). */
  urls: Record<ServiceName, string[]>;
  /** Variables shared by every service that the launcher sets (bus kind and namespace, ...). */
  shared?: NodeJS.ProcessEnv;
  /**
   * The databases are PGlite stand-ins: one session serves all their connections, so the
   * services do not prepare statements on them (DATABASE_PREPARED_STATEMENTS, ADR 0048).
   */
  embeddedPostgres?: boolean;
}

// Variables that name one service's own resources: never inherited from the launcher's shell.
const PER_SERVICE = ['PORT', 'MONGO_URL', 'DATABASE_URL', 'EVENT_BUS'];

/**
 * The variables one service (or the gateway) reads in its main.ts, listening on `port`: the
 * launcher's environment plus what the launcher decided. `npm start` feeds them to each
 * service's joi schema in its own process; `npm run fleet` hands them to a child process.
 * Lists of replicas are comma-separated, as every `*_SERVICE_URL` variable accepts.
 */
export function serviceEnv(name: ServiceName, port: number, o: FleetContext): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(o.env).filter(([k]) => !PER_SERVICE.includes(k)),
  ) as NodeJS.ProcessEnv;
  const base: NodeJS.ProcessEnv = {
    ...inherited,
    NODE_ENV: o.env.NODE_ENV ?? 'development',
    LOG_LEVEL: o.logLevel,
    HOST: o.env.HOST ?? '127.0.0.1',
    EVENT_BUS: 'memory',
    JWT_ALGORITHM: 'ES256',
    JWT_PUBLIC_KEY: o.keys.publicKey,
    ...o.shared,
    PORT: String(port),
  };
  const urls = (service: ServiceName) => o.urls[service].join(',');
  const postgres = (url: string): NodeJS.ProcessEnv => ({
    DATABASE_URL: url,
    ...(o.embeddedPostgres ? { DATABASE_PREPARED_STATEMENTS: 'false' } : {}),
  });
  // All replicas of one service share its anchoring key: the writer lock keeps one writer.
  const anchoring = (key: string | undefined): NodeJS.ProcessEnv => ({
    BLOCKCHAIN_RPC_URL: o.chain.url,
    ...(o.chain.contractAddress ? { ANCHOR_CONTRACT_ADDRESS: o.chain.contractAddress } : {}),
    ...(key ? { ANCHOR_PRIVATE_KEY: key } : {}),
    // The embedded chain is a dev chain: if it ever lacks the contract, the service deploys one.
    ...(o.chain.kind === 'embedded' ? { ANCHOR_DEPLOY: 'true' } : {}),
  });
  switch (name) {
    case 'auth': {
      const admin = adminAccount(o.env);
      return {
        ...base,
        MONGO_URL: mongoDatabaseUrl(o.mongoUrl, 'auth_db'),
        JWT_PRIVATE_KEY: o.keys.privateKey,
        ADMIN_EMAIL: admin.email,
        ...(admin.password ? { ADMIN_PASSWORD: admin.password } : {}),
        ADMIN_NAME: admin.name,
        BCRYPT_ROUNDS: o.env.BCRYPT_ROUNDS ?? '10',
      };
    }
    case 'product':
      return {
        ...base,
        MONGO_URL: mongoDatabaseUrl(o.mongoUrl, 'product_db'),
        // Images on the local disk beside the embedded stores, unless S3_ENDPOINT is set.
        IMAGE_DIR: o.env.IMAGE_DIR ?? path.join(dataDir(o.env), 'images'),
      };
    case 'comments':
      return {
        ...base,
        MONGO_URL: mongoDatabaseUrl(o.mongoUrl, 'comments_db'),
        PRODUCT_SERVICE_URL: urls('product'),
      };
    case 'payment':
      return {
        ...base,
        ...postgres(o.paymentDbUrl),
        // GET /api/blockchain/verify/:tx asks order for the transactions of its own batches.
        ORDER_SERVICE_URL: urls('order'),
        ...anchoring(o.chain.anchorerKeys[0]),
      };
    case 'order':
      return {
        ...base,
        ...postgres(o.orderDbUrl),
        PRODUCT_SERVICE_URL: urls('product'),
        AUTH_SERVICE_URL: urls('auth'),
        ...anchoring(o.chain.anchorerKeys[1]),
      };
    case 'notification':
      return {
        ...base,
        ...postgres(o.notificationDbUrl),
        // Else SMTP_HOST / SMTP_PORT from the launcher's environment (a Mailpit of your own).
        ...(o.smtp ? { SMTP_HOST: o.smtp.host, SMTP_PORT: String(o.smtp.port) } : {}),
      };
    case 'gateway':
      return {
        ...base,
        AUTH_SERVICE_URL: urls('auth'),
        PRODUCT_SERVICE_URL: urls('product'),
        COMMENTS_SERVICE_URL: urls('comments'),
        PAYMENT_SERVICE_URL: urls('payment'),
        ORDER_SERVICE_URL: urls('order'),
        NOTIFICATION_SERVICE_URL: urls('notification'),
      };
  }
}
