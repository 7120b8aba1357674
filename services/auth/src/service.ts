import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Connection } from 'mongoose';
import {
  closeHttpServer,
  createLogger,
  createMongoOutbox,
  listenHttp,
  jwtVerifyOptionsFromConfig,
  verifyAccessToken,
  type EventBus,
  type JwtVerifyOptions,
  type Listening,
  type Logger,
  type MongoOutbox,
} from '@ecom/common';
import { createAccounts, type Accounts } from './accounts';
import { createAuthApp } from './app';
import { signingKey, type AuthConfig } from './config';
import { parseDurationSeconds } from './domain/duration';
import { createUserEventPublisher, type UserEventPublisher } from './events';
import { createBcryptHasher, type PasswordHasher } from './security/password-hasher';
import { createTokenIssuer } from './security/tokens';
import { connectAuthDb, createAuthStores, pingAuthDb, type AuthStores } from './store';

export interface AuthComponents {
  connection: Connection;
  stores: AuthStores;
  /** The shared MongoDB outbox (collection `outbox`) behind `events`. */
  outbox: MongoOutbox;
  accounts: Accounts;
  events: UserEventPublisher;
  hasher: PasswordHasher;
  jwt: JwtVerifyOptions;
  app: Express;
}

export interface BuildAuthOptions {
  config: AuthConfig;
  bus: EventBus;
  logger: Logger;
  /** An open connection to use instead of connecting to config.MONGO_URL. */
  connection?: Connection;
  hasher?: PasswordHasher;
  now?: () => Date;
  outboxRelayIntervalMs?: number;
}

/** Fails at start, not at the first login, when the private and public keys do not match. */
function checkKeyPair(config: AuthConfig, jwt: JwtVerifyOptions, issue: () => string): void {
  try {
    verifyAccessToken(issue(), jwt);
  } catch {
    throw new Error(
      `JWT_PRIVATE_KEY and the verification key (${config.JWT_ALGORITHM === 'HS256' ? 'JWT_SECRET' : 'JWT_PUBLIC_KEY'}) do not match`,
    );
  }
}

/**
 * Wires stores, domain and HTTP on one connection, seeds the admin; no listening socket.
 * Tests use it with injected hasher/clock; startAuthService adds the HTTP server.
 */
export async function buildAuth(options: BuildAuthOptions): Promise<AuthComponents> {
  const { config, bus, logger } = options;
  const now = options.now ?? (() => new Date());
  const jwt = jwtVerifyOptionsFromConfig(config);
  const connection = options.connection ?? (await connectAuthDb(config.MONGO_URL));
  try {
    const stores = await createAuthStores(connection);
    const hasher = options.hasher ?? (await createBcryptHasher(config.BCRYPT_ROUNDS));
    const tokens = createTokenIssuer(
      {
        sign: {
          algorithm: config.JWT_ALGORITHM,
          key: signingKey(config),
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
        },
        accessTtlSeconds: parseDurationSeconds(config.JWT_ACCESS_TTL),
        refreshTtlSeconds: parseDurationSeconds(config.JWT_REFRESH_TTL),
      },
      stores.refreshTokens,
    );
    checkKeyPair(config, jwt, () => tokens.accessToken({ id: 'key-check', role: 'customer' }));
    const outbox = createMongoOutbox({
      connection,
      collection: 'outbox',
      bus,
      logger,
      now,
      intervalMs: options.outboxRelayIntervalMs ?? config.OUTBOX_RELAY_INTERVAL_MS,
      // The relay leaves a fresh row to the direct send this long.
      directSendGraceMs: 5000,
    });
    await outbox.init();
    const events = createUserEventPublisher(outbox);
    const accounts = createAccounts({
      stores,
      hasher,
      tokens,
      events,
      now,
      logger,
      lockout: {
        maxFailures: config.LOGIN_MAX_FAILURES,
        lockoutMs: config.LOGIN_LOCKOUT_SECONDS * 1000,
        failureWindowMs: config.LOGIN_FAILURE_WINDOW_SECONDS * 1000,
      },
    });
    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
      await accounts.seedAdmin({
        email: config.ADMIN_EMAIL,
        password: config.ADMIN_PASSWORD,
        name: config.ADMIN_NAME,
      });
    }
    const app = createAuthApp({
      accounts,
      jwt,
      logger,
      bodyLimit: config.BODY_LIMIT,
      checks: { mongodb: () => pingAuthDb(connection), eventBus: () => bus.health() },
    });
    return { connection, stores, outbox, accounts, events, hasher, jwt, app };
  } catch (err) {
    if (!options.connection) await connection.close();
    throw err;
  }
}

export interface StartAuthServiceOptions {
  config: AuthConfig;
  /** Shared with other services in the embedded run; closed by its owner, not by stop(). */
  bus: EventBus;
  logger?: Logger;
}

export interface RunningAuthService {
  app: Express;
  /** The use cases, for in-process operator tools (the launcher's seed). */
  accounts: Accounts;
  server: Server;
  url: string;
  /** Stops the outbox relay, closes the HTTP server and the MongoDB connection. */
  stop(): Promise<void>;
}

/** Starts the auth service on config.PORT (0 picks a free port). */
export async function startAuthService(
  options: StartAuthServiceOptions,
): Promise<RunningAuthService> {
  const { config, bus } = options;
  const logger = options.logger ?? createLogger('auth-service', config.LOG_LEVEL);
  const auth = await buildAuth({ config, bus, logger });
  let listening: Listening;
  try {
    listening = await listenHttp(auth.app, config.PORT, config.HOST);
  } catch (err) {
    await auth.connection.close();
    throw err;
  }
  const { server, url } = listening;
  auth.events.start();
  logger.info('auth service listening', { url });

  let stopping: Promise<void> | undefined;
  return {
    app: auth.app,
    accounts: auth.accounts,
    server,
    url,
    stop() {
      stopping ??= (async () => {
        await closeHttpServer(server);
        await auth.events.stop();
        await auth.connection.close();
      })();
      return stopping;
    },
  };
}
