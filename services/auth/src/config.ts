import Joi from 'joi';
import type { MongoConfig, ServiceConfig } from '@ecom/common/config';
import { loadConfig, mongoConfigKeys, pemFromEnv, serviceConfigKeys } from '@ecom/common/config';
import { parseDurationSeconds } from './domain/duration';
import { emailHasHiddenCharacters, normaliseEmail } from './domain/user';

/** A duration such as `15m`, `7d`, `3600s` or plain seconds (`900`). */
const duration = Joi.string()
  .pattern(/^\d+\s*(s|m|h|d)?$/i)
  .custom((value: string, helpers) => {
    const seconds = parseDurationSeconds(value);
    return seconds > 0 ? value : helpers.error('any.invalid');
  });

/** A delay in whole seconds, up to a day. */
const delaySeconds = Joi.number().integer().min(1).max(86400);

export const authConfigSchema = Joi.object<AuthConfig>({
  ...serviceConfigKeys(3001),
  ...mongoConfigKeys('auth_db'),
  // Only auth signs: the private key never leaves this service (HS256 signs with JWT_SECRET).
  JWT_PRIVATE_KEY: Joi.string().when('JWT_ALGORITHM', {
    is: 'HS256',
    then: Joi.forbidden(),
    otherwise: Joi.required(),
  }),
  JWT_ACCESS_TTL: duration.default('15m'),
  JWT_REFRESH_TTL: duration.default('7d'),
  BCRYPT_ROUNDS: Joi.number()
    .integer()
    .max(15)
    .when('NODE_ENV', {
      is: 'production',
      then: Joi.number().min(10),
      otherwise: Joi.number().min(4),
    })
    .default(12),
  // Login throttling (docs/adr/0016): growing delays per (account, client address), no lock.
  LOGIN_MAX_FAILURES: Joi.number().integer().min(1).max(1000).default(5),
  LOGIN_ACCOUNT_MAX_FAILURES: Joi.number().integer().min(1).max(1_000_000).default(20),
  LOGIN_BASE_DELAY_SECONDS: Joi.number().integer().min(1).max(3600).default(5),
  /** The name of LOGIN_MAX_DELAY_SECONDS before accounts stopped being locked; still read. */
  LOGIN_LOCKOUT_SECONDS: delaySeconds,
  LOGIN_MAX_DELAY_SECONDS: delaySeconds.default(
    (parent: { LOGIN_LOCKOUT_SECONDS?: number }) => parent.LOGIN_LOCKOUT_SECONDS ?? 900,
  ),
  LOGIN_FAILURE_WINDOW_SECONDS: Joi.number().integer().min(1).max(604800).default(86400),
  ADMIN_EMAIL: Joi.string()
    .email({ tlds: { allow: false } })
    .max(254)
    // The same rule as registration: no address hides characters.
    .custom((value: string, helpers) =>
      emailHasHiddenCharacters(normaliseEmail(value)) ? helpers.error('any.invalid') : value,
    ),
  ADMIN_PASSWORD: Joi.string().max(1024).when('ADMIN_EMAIL', {
    is: Joi.exist(),
    then: Joi.required(),
    otherwise: Joi.forbidden(),
  }),
  ADMIN_NAME: Joi.string().max(100).default('Administrator'),
  OUTBOX_RELAY_INTERVAL_MS: Joi.number().integer().min(10).max(600000).default(2000),
});

export interface AuthConfig extends ServiceConfig, MongoConfig {
  JWT_PRIVATE_KEY?: string;
  JWT_ACCESS_TTL: string;
  JWT_REFRESH_TTL: string;
  BCRYPT_ROUNDS: number;
  /** Failures one client address may make for one account before it is delayed. */
  LOGIN_MAX_FAILURES: number;
  /** Failures of one account from all addresses after which each address waits from its first. */
  LOGIN_ACCOUNT_MAX_FAILURES: number;
  LOGIN_BASE_DELAY_SECONDS: number;
  LOGIN_MAX_DELAY_SECONDS: number;
  /** Deprecated name of LOGIN_MAX_DELAY_SECONDS (used when that is not set). */
  LOGIN_LOCKOUT_SECONDS?: number;
  LOGIN_FAILURE_WINDOW_SECONDS: number;
  ADMIN_EMAIL?: string;
  ADMIN_PASSWORD?: string;
  ADMIN_NAME: string;
  OUTBOX_RELAY_INTERVAL_MS: number;
}

/** Validates the environment (throws ConfigError naming the bad variable). */
export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return loadConfig<AuthConfig>(authConfigSchema, env);
}

/** The key that signs access tokens: the PEM private key, or the shared secret for HS256. */
export function signingKey(config: AuthConfig): string {
  const key =
    config.JWT_ALGORITHM === 'HS256' ? config.JWT_SECRET : pemFromEnv(config.JWT_PRIVATE_KEY);
  if (!key) throw new Error('JWT signing key is not configured');
  return key;
}
