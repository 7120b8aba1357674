import { verifyAccessToken, type JwtVerifyOptions } from '@ecom/common/auth';
import { periodicTask } from '@ecom/common/lifecycle';
import { connectServiceMongo, createMongoOutbox, pingMongo } from '@ecom/common/mongo';
import { defineService, type RunningService } from '@ecom/common/service';
import { mongoStoreMetrics } from '@ecom/common/metrics';
import { createAccounts } from './application/accounts';
import { createBcryptHasher, type PasswordHasher } from './application/password-hasher';
import { createTokenIssuer } from './application/tokens';
import { authConfigSchema, signingKey, type AuthConfig } from './config';
import { parseDurationSeconds } from './domain/duration';
import { createUserEventPublisher } from './events/publisher';
import { authRoutes } from './http/routes';
import { createAuthStores } from './store';

/** What a launcher or a test may replace. */
export interface AuthServiceOptions {
  /** Replaces the bcrypt hasher built from BCRYPT_ROUNDS (tests record comparisons). */
  hasher?: PasswordHasher;
  /** The clock of login throttling, token expiry and the outbox (tests move it instead of sleeping). */
  now?: () => Date;
  /** Replaces OUTBOX_RELAY_INTERVAL_MS. */
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

/** How often auth checks that Redis still holds the revoked-session list's time. */
const REVOCATION_MARK_INTERVAL_MS = 2000;

/**
 * The auth service: MongoDB (auth_db) with users, refresh tokens and login counters, the
 * outbox relay of user events, the first admin from ADMIN_EMAIL / ADMIN_PASSWORD, HTTP.
 */
export const authService = defineService({
  name: 'auth',
  configSchema: authConfigSchema,
  async build({ config, bus, logger, registry, onClose, jwt }, options: AuthServiceOptions) {
    const now = options.now ?? (() => new Date());
    const connection = await connectServiceMongo(config.MONGO_URL, {
      // Refuse query operators hidden in values, as a second line behind the joi schemas.
      sanitizeFilter: true,
    });
    onClose('mongodb', () => connection.close());
    mongoStoreMetrics(registry, connection, 'outbox');
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
      jwt.revocations,
      logger,
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
      throttle: {
        maxFailures: config.LOGIN_MAX_FAILURES,
        accountMaxFailures: config.LOGIN_ACCOUNT_MAX_FAILURES,
        baseDelayMs: config.LOGIN_BASE_DELAY_SECONDS * 1000,
        maxDelayMs: config.LOGIN_MAX_DELAY_SECONDS * 1000,
        failureWindowMs: config.LOGIN_FAILURE_WINDOW_SECONDS * 1000,
      },
    });
    // Redis can lose revocations (a restart, a failover to a replica behind). The list's
    // "complete since" time names the Redis run it holds for; a new run gets a new time, and
    // every access token issued before is refused, so no revoked session comes back (ADR 0015).
    let marked = false;
    const revocationMark = periodicTask({
      name: 'revoked-session list mark',
      intervalMs: REVOCATION_MARK_INTERVAL_MS,
      logger,
      run: async () => {
        const list = jwt.revocations;
        if (!list) return;
        // The real clock, as the tokens' iat (jsonwebtoken's), not an injected one.
        if (await list.markComplete(Date.now() / 1000)) {
          const message =
            'revoked-session list (re)started; access tokens issued before now are refused (clients refresh)';
          if (marked) logger.warn(`${message}: Redis restarted or failed over`);
          else logger.info(message);
        }
        marked = true;
      },
    });
    await revocationMark.runOnce();
    if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
      await accounts.seedAdmin({
        email: config.ADMIN_EMAIL,
        password: config.ADMIN_PASSWORD,
        name: config.ADMIN_NAME,
      });
    }
    return {
      routers: [authRoutes({ accounts, jwt, logger })],
      health: { mongodb: () => pingMongo(connection) },
      // The relay re-sends user events the bus did not take at once.
      workers: [outbox, revocationMark],
      exports: {
        connection,
        stores,
        /** The MongoDB outbox (collection `outbox`) behind the user events; also the relay. */
        outbox,
        /** The use cases, for in-process operator tools (`accounts.operatorSession(email)`). */
        accounts,
        /** Sends every due unsent user event now; returns how many were sent. */
        flushOutbox: () => outbox.flush(),
      },
    };
  },
});

export type RunningAuthService = RunningService<
  Awaited<ReturnType<typeof authService.build>>['exports']
>;
export type { AuthConfig };
