import { createPublicKey, type KeyObject } from 'node:crypto';
import Joi from 'joi';
import type { JwtVerifyConfig } from '../auth/config';
import type { EventBusConfig } from '../bus/factory';
import { trustProxySchema } from './trust-proxy';

/**
 * Tracing (common/src/tracing): on only when an OTLP/HTTP endpoint is set, e.g. a local Jaeger
 * at http://127.0.0.1:4318; the sampler argument is the share of new traces kept.
 */
function tracingConfigKeys() {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: Joi.string().uri({ scheme: ['http', 'https'] }),
    OTEL_TRACES_SAMPLER_ARG: Joi.number().min(0).max(1).default(1),
    OTEL_SDK_DISABLED: Joi.boolean().default(false),
    // Read by the OpenTelemetry exporter itself (e.g. an auth header for a hosted collector).
    OTEL_EXPORTER_OTLP_HEADERS: Joi.string(),
  };
}

/** Variables every service and the gateway share. Spread into a service's own schema. */
export const baseConfigKeys = {
  NODE_ENV: Joi.string().valid('development', 'test', 'production').default('development'),
  LOG_LEVEL: Joi.string().valid('error', 'warn', 'info', 'http', 'debug', 'silent').default('info'),
  HOST: Joi.string().default('0.0.0.0'),
  BODY_LIMIT: Joi.string()
    .pattern(/^\d+(b|kb|mb)$/i)
    .default('100kb'),
  SHUTDOWN_TIMEOUT_MS: Joi.number().integer().min(0).default(10000),
  // Set: /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (the gateway's, on the
  // public edge, is not served at all in production without it).
  METRICS_TOKEN: Joi.string().min(16),
  ...tracingConfigKeys(),
};

/** The variables of baseConfigKeys, validated. */
export interface BaseConfig {
  NODE_ENV: 'development' | 'test' | 'production';
  LOG_LEVEL: string;
  HOST: string;
  BODY_LIMIT: string;
  SHUTDOWN_TIMEOUT_MS: number;
  METRICS_TOKEN?: string;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_TRACES_SAMPLER_ARG?: number;
  OTEL_SDK_DISABLED?: boolean;
}

/** JWT verification settings (every service verifies tokens itself; only auth signs). */
export const jwtVerifyConfigKeys = {
  JWT_ALGORITHM: Joi.string().valid('ES256', 'RS256', 'HS256').default('ES256'),
  JWT_PUBLIC_KEY: Joi.string()
    .custom((value: string, helpers) => {
      // A value that is not a key for the algorithm would make every token fail later with a
      // bare 401; a private key has no business outside the auth service.
      const pem = pemFromEnv(value)!;
      if (/PRIVATE KEY/.test(pem)) throw new Error('it is a private key; give the public key');
      let key: KeyObject;
      try {
        key = createPublicKey(pem);
      } catch {
        throw new Error('it is not a PEM public key');
      }
      const algorithm = (helpers.state.ancestors[0] as { JWT_ALGORITHM?: string }).JWT_ALGORITHM;
      const fits =
        algorithm === 'RS256'
          ? key.asymmetricKeyType === 'rsa'
          : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
      if (!fits) throw new Error(`it is not a ${algorithm === 'RS256' ? 'RSA' : 'P-256 EC'} key`);
      return value;
    }, 'PEM key')
    .when('JWT_ALGORITHM', {
      is: 'HS256',
      then: Joi.forbidden(),
      otherwise: Joi.required(),
    }),
  JWT_SECRET: Joi.string().min(32).when('JWT_ALGORITHM', {
    is: 'HS256',
    then: Joi.required(),
    otherwise: Joi.forbidden(),
  }),
  JWT_ISSUER: Joi.string().default('ecom-auth'),
  JWT_AUDIENCE: Joi.string().default('ecom-api'),
};

/** Event bus selection, shared by every service that publishes or consumes events. */
export const busConfigKeys = {
  EVENT_BUS: Joi.string().valid('memory', 'redis', 'rabbitmq').default('memory'),
  REDIS_URL: Joi.string()
    .uri({ scheme: ['redis', 'rediss'] })
    .when('EVENT_BUS', {
      is: 'redis',
      then: Joi.required(),
    }),
  AMQP_URL: Joi.string()
    .uri({ scheme: ['amqp', 'amqps'] })
    .when('EVENT_BUS', {
      is: 'rabbitmq',
      then: Joi.required(),
    }),
  // Namespace of the exchange, queues and streams: several platforms can share one broker.
  EVENT_BUS_PREFIX: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9_-]{0,39}$/i)
    .default('ecom'),
  // The retry budget of a failed event before it is dead-lettered (defaults: about 11 minutes).
  EVENT_RETRY_ATTEMPTS: Joi.number().integer().min(1).max(1000).default(30),
  EVENT_RETRY_BASE_DELAY_MS: Joi.number().integer().min(1).max(600_000).default(250),
  EVENT_RETRY_MAX_DELAY_MS: Joi.number()
    .integer()
    .min(Joi.ref('EVENT_RETRY_BASE_DELAY_MS'))
    .max(3_600_000)
    .default(30_000),
  // In-memory bus only: how long the outbox relays keep a sent row ready to send again after a
  // crash (default: the retry budget plus 5 minutes, about 16.5 minutes; ADR 0056).
  OUTBOX_REPLAY_WINDOW_MS: Joi.number()
    .integer()
    .min(0)
    .max(7 * 24 * 3_600_000),
  // Quorum queues replicate and fsync (RabbitMQ's advice for data safety); classic for old brokers.
  RABBITMQ_QUEUE_TYPE: Joi.string().valid('quorum', 'classic').default('quorum'),
};

/** An http(s) URL: another service's address. */
export const httpUrl = () => Joi.string().uri({ scheme: ['http', 'https'] });

/** The most base URLs one `*_SERVICE_URL` may list: each replica is probed every few seconds. */
export const MAX_SERVICE_URLS = 32;

/**
 * `http://a:3002,http://b:3002` → the replicas' base URLs, normalised (lower-case host, no
 * trailing slash). Each must be an http(s) URL with a host and without credentials, query or
 * fragment (it is a prefix for paths); no empty item, no duplicate, at most MAX_SERVICE_URLS.
 * Throws an Error saying which item is wrong.
 */
export function parseServiceUrls(value: string): string[] {
  const items = value.split(',').map((item) => item.trim());
  if (items.length > MAX_SERVICE_URLS) {
    throw new Error(`it lists ${items.length} URLs; at most ${MAX_SERVICE_URLS}`);
  }
  const urls: string[] = [];
  items.forEach((item, i) => {
    const which = items.length > 1 ? `item ${i + 1}` : 'the URL';
    if (!item) throw new Error(`${which} is empty`);
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new Error(`${which} ("${item}") is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`${which} ("${item}") is not an http(s) URL`);
    }
    if (!url.hostname) throw new Error(`${which} ("${item}") has no host`);
    // Not echoed: the item may hold a password.
    if (url.username || url.password || url.search || url.hash || /[?#]/.test(item)) {
      throw new Error(`${which} has credentials, a query or a fragment; give a base URL`);
    }
    const normalised = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    if (urls.includes(normalised)) throw new Error(`${which} ("${item}") is listed twice`);
    urls.push(normalised);
  });
  return urls;
}

/**
 * Another service's address as one base URL per replica, comma-separated (one URL stays valid:
 * it may name a load-balanced Service, as in Kubernetes). Validates to a string[].
 */
export const serviceUrls = (defaultUrl: string) =>
  Joi.string()
    .max(MAX_SERVICE_URLS * 256)
    .custom((value: string) => parseServiceUrls(value), 'service URL list')
    .default(parseServiceUrls(defaultUrl));

/**
 * The variables of a service on the kit: the shared ones, token verification, the bus and its
 * port. Spread into the service's own schema.
 */
export const serviceConfigKeys = (defaultPort: number) => ({
  ...baseConfigKeys,
  ...jwtVerifyConfigKeys,
  ...busConfigKeys,
  PORT: Joi.number().port().default(defaultPort),
  // The gateway in front: on the same host by default; in compose, its container network.
  TRUST_PROXY: trustProxySchema('loopback'),
});

/** The variables of serviceConfigKeys, validated. */
export interface ServiceConfig extends BaseConfig, JwtVerifyConfig, EventBusConfig {
  PORT: number;
  TRUST_PROXY: string;
}

/** The PostgreSQL database a service owns; `database` on the local server by default. */
export const postgresConfigKeys = (database: string) => ({
  DATABASE_URL: Joi.string()
    .uri({ scheme: ['postgres', 'postgresql'] })
    .default(`postgres://postgres@127.0.0.1:5432/${database}`),
  DATABASE_POOL_MAX: Joi.number().integer().min(1).max(100).default(10),
  // Off where sessions are not the connection's own (PgBouncer in transaction mode; the PGlite
  // stand-in of `npm start`): docs/adr/0048.
  DATABASE_PREPARED_STATEMENTS: Joi.boolean().default(true),
});

export interface PostgresConfig {
  DATABASE_URL: string;
  DATABASE_POOL_MAX: number;
  DATABASE_PREPARED_STATEMENTS: boolean;
}

/** The MongoDB database a service owns; `database` on the local server by default. */
export const mongoConfigKeys = (database: string) => ({
  MONGO_URL: Joi.string()
    .uri({ scheme: ['mongodb', 'mongodb+srv'] })
    .default(`mongodb://127.0.0.1:27017/${database}`),
});

export interface MongoConfig {
  MONGO_URL: string;
}

/** PEM values often arrive with literal "\n" in env files; restore the newlines. */
export function pemFromEnv(value: string | undefined): string | undefined {
  return value?.includes('\\n') ? value.replace(/\\n/g, '\n') : value;
}
