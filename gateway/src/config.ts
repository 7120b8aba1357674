import Joi from 'joi';
import type { JwtVerifyConfig } from '@ecom/common/auth';
import {
  baseConfigKeys,
  busConfigKeys,
  jwtVerifyConfigKeys,
  loadConfig,
  serviceUrls,
  trustProxySchema,
  type BaseConfig,
} from '@ecom/common/config';

const positiveInt = () => Joi.number().integer().min(1);

/**
 * Every gateway variable. Upstream URLs (one per replica, comma-separated) default to the local
 * ports of docs/architecture.md;
 * limits, timeouts and the cache are tunable without a rebuild.
 */
export const gatewayConfigSchema = Joi.object({
  ...baseConfigKeys,
  ...jwtVerifyConfigKeys,
  PORT: Joi.number().port().default(3000),

  AUTH_SERVICE_URL: serviceUrls('http://127.0.0.1:3001'),
  PRODUCT_SERVICE_URL: serviceUrls('http://127.0.0.1:3002'),
  COMMENTS_SERVICE_URL: serviceUrls('http://127.0.0.1:3003'),
  PAYMENT_SERVICE_URL: serviceUrls('http://127.0.0.1:3004'),
  ORDER_SERVICE_URL: serviceUrls('http://127.0.0.1:3005'),
  NOTIFICATION_SERVICE_URL: serviceUrls('http://127.0.0.1:3006'),

  REDIS_URL: Joi.string().uri({ scheme: ['redis', 'rediss'] }),
  // The platform's namespace on shared servers: the revoked-session list is read under it.
  EVENT_BUS_PREFIX: busConfigKeys.EVENT_BUS_PREFIX,
  /** A rate-limit decision Redis has not answered by then is made in memory instead. */
  REDIS_COMMAND_TIMEOUT_MS: positiveInt().max(10_000).default(250),
  /** Prefix of every Redis key the gateway writes (rate limits, cache generation). */
  GATEWAY_KEY_PREFIX: Joi.string()
    .pattern(/^[A-Za-z0-9:_-]{1,64}$/)
    .default('gw'),
  /** `false` (the gateway is the edge), `loopback`, a hop count or a list of subnets. */
  TRUST_PROXY: trustProxySchema('false'),

  RATE_LIMIT_ENABLED: Joi.boolean().default(true),
  RATE_LIMIT_WINDOW_SECONDS: positiveInt().max(86400).default(60),
  RATE_LIMIT_POINTS: positiveInt().max(10_000_000).default(300),
  RATE_LIMIT_AUTH_WINDOW_SECONDS: positiveInt().max(86400).default(300),
  RATE_LIMIT_AUTH_POINTS: positiveInt().max(10_000_000).default(20),
  RATE_LIMIT_PAYMENT_WINDOW_SECONDS: positiveInt().max(86400).default(60),
  RATE_LIMIT_PAYMENT_POINTS: positiveInt().max(10_000_000).default(30),
  // The card processor's webhook deliveries, per address: bursts of retries must not starve.
  RATE_LIMIT_WEBHOOK_WINDOW_SECONDS: positiveInt().max(86400).default(60),
  RATE_LIMIT_WEBHOOK_POINTS: positiveInt().max(10_000_000).default(600),

  /** Comma-separated origins allowed by CORS, e.g. `https://shop.example.com`. Empty: none. */
  CORS_ORIGINS: Joi.string().allow('').max(4000).default(''),
  /**
   * Comma-separated chain JSON-RPC origins the audit page (/audit) may call besides loopback,
   * e.g. `https://rpc.example.org`. Empty: loopback only.
   */
  AUDIT_RPC_ORIGINS: Joi.string()
    .allow('')
    .max(4000)
    .pattern(
      /^(https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)(\s*,\s*https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)*$/,
    )
    .default(''),

  UPSTREAM_TIMEOUT_MS: positiveInt().max(300_000).default(10_000),
  /** To send the request body (else 408), and the longest a client may stop reading an answer. */
  CLIENT_TIMEOUT_MS: positiveInt().max(600_000).default(30_000),
  /**
   * Requests one client connection may have unanswered (pipelining depth): one more is not
   * dispatched and the connection is closed after the answers in progress.
   */
  MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION: positiveInt().max(1000).default(8),
  /** Per replica. */
  UPSTREAM_MAX_SOCKETS: positiveInt().max(10_000).default(256),
  /** How often each replica's readiness is checked, when an upstream lists two or more. */
  UPSTREAM_HEALTH_INTERVAL_MS: Joi.number().integer().min(100).max(60_000).default(2000),
  BREAKER_ERROR_THRESHOLD_PERCENTAGE: Joi.number().min(1).max(100).default(50),
  BREAKER_VOLUME_THRESHOLD: positiveInt().max(10_000).default(5),
  BREAKER_RESET_TIMEOUT_MS: positiveInt().max(600_000).default(10_000),
  BREAKER_ROLLING_WINDOW_MS: positiveInt().max(600_000).default(10_000),
  HEALTH_TIMEOUT_MS: positiveInt().max(60_000).default(2000),
  /** `GET /health` answers from one aggregate probe per this window, however often it is called. */
  HEALTH_CACHE_MS: Joi.number().integer().min(0).max(60_000).default(1000),

  JWT_CACHE_MAX_ENTRIES: Joi.number().integer().min(0).max(1_000_000).default(10_000),

  /** 0 disables the public product read cache. */
  GATEWAY_CACHE_TTL_MS: Joi.number().integer().min(0).max(60_000).default(0),
  GATEWAY_CACHE_MAX_ENTRIES: positiveInt().max(1_000_000).default(1000),
  GATEWAY_CACHE_MAX_BODY_BYTES: positiveInt().max(10_000_000).default(262_144),
});

export interface GatewayConfig extends BaseConfig, JwtVerifyConfig {
  PORT: number;

  AUTH_SERVICE_URL: string[];
  PRODUCT_SERVICE_URL: string[];
  COMMENTS_SERVICE_URL: string[];
  PAYMENT_SERVICE_URL: string[];
  ORDER_SERVICE_URL: string[];
  NOTIFICATION_SERVICE_URL: string[];

  REDIS_URL?: string;
  EVENT_BUS_PREFIX: string;
  REDIS_COMMAND_TIMEOUT_MS: number;
  GATEWAY_KEY_PREFIX: string;
  TRUST_PROXY: string;

  RATE_LIMIT_ENABLED: boolean;
  RATE_LIMIT_WINDOW_SECONDS: number;
  RATE_LIMIT_POINTS: number;
  RATE_LIMIT_AUTH_WINDOW_SECONDS: number;
  RATE_LIMIT_AUTH_POINTS: number;
  RATE_LIMIT_PAYMENT_WINDOW_SECONDS: number;
  RATE_LIMIT_PAYMENT_POINTS: number;
  RATE_LIMIT_WEBHOOK_WINDOW_SECONDS: number;
  RATE_LIMIT_WEBHOOK_POINTS: number;

  CORS_ORIGINS: string;
  AUDIT_RPC_ORIGINS: string;

  UPSTREAM_TIMEOUT_MS: number;
  CLIENT_TIMEOUT_MS: number;
  MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION: number;
  UPSTREAM_MAX_SOCKETS: number;
  UPSTREAM_HEALTH_INTERVAL_MS: number;
  BREAKER_ERROR_THRESHOLD_PERCENTAGE: number;
  BREAKER_VOLUME_THRESHOLD: number;
  BREAKER_RESET_TIMEOUT_MS: number;
  BREAKER_ROLLING_WINDOW_MS: number;
  HEALTH_TIMEOUT_MS: number;
  HEALTH_CACHE_MS: number;

  JWT_CACHE_MAX_ENTRIES: number;

  GATEWAY_CACHE_TTL_MS: number;
  GATEWAY_CACHE_MAX_ENTRIES: number;
  GATEWAY_CACHE_MAX_BODY_BYTES: number;
}

/** Validates the environment (throws ConfigError naming the bad variable). */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig<GatewayConfig>(gatewayConfigSchema as Joi.ObjectSchema<GatewayConfig>, env);
}

/** `100kb` → 102400. BODY_LIMIT is validated by the shared schema (digits + b|kb|mb). */
export function parseByteSize(value: string): number {
  const match = /^(\d+)(b|kb|mb)$/i.exec(value.trim());
  if (!match) throw new Error(`Invalid byte size: ${value}`);
  const unit = match[2]!.toLowerCase();
  return Number(match[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1);
}

/** Express `trust proxy` value from TRUST_PROXY. */
export function corsOrigins(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
