import type { RequestListener, Server } from 'node:http';
import type { Express, Router } from 'express';
import type Joi from 'joi';
import client from 'prom-client';
import type { ConsumerHandle, ConsumerObserver } from '../bus/consumer';
import { createEventBus, type EventBusConfig } from '../bus/factory';
import { InMemoryEventBus } from '../bus/memory-bus';
import type { EventBus } from '../bus/types';
import type { HealthCheck } from '../health/health-router';
import { createServiceApp } from '../http/create-app';
import { closeHttpServer, listenHttp } from '../lifecycle/listen';
import { createLogger, type Logger } from '../logging/logger';
import { jwtVerifyOptionsFromConfig, type JwtVerifyConfig } from '../auth/config';
import type { JwtVerifyOptions } from '../auth/jwt';
import { sessionRevocationsFromConfig, type SessionRevocations } from '../auth/revocation';
import { trustProxySetting } from '../config/trust-proxy';
import { deadLetterRoutes } from './dead-letters';
import { flushTracing, inService } from '../tracing/state';
import { startTracingFromConfig, type TracingConfig } from '../tracing/from-config';
import { traceRequests } from '../tracing/http-spans';
import { consumerMetrics } from '../metrics/consumers';

/** The token verification the configuration sets, if it sets one (the admin routes need it). */
function verifyOptions(config: unknown): JwtVerifyOptions | null {
  try {
    return jwtVerifyOptionsFromConfig(config as JwtVerifyConfig);
  } catch {
    return null;
  }
}

/** What every service's configuration carries (baseConfigKeys + busConfigKeys). */
export interface ServiceBaseConfig extends Partial<EventBusConfig> {
  LOG_LEVEL: string;
  HOST: string;
  PORT: number;
  BODY_LIMIT?: string;
  SHUTDOWN_TIMEOUT_MS: number;
  METRICS_TOKEN?: string;
  TRUST_PROXY?: string;
}

/** Something that runs in the background while the service is up: relays, periodic tasks. */
export interface Worker {
  start(): void | Promise<void>;
  /** Stops and waits for the work in flight. */
  stop(): Promise<unknown>;
}

export interface ServiceContext<C> {
  config: C;
  /** The event bus (an in-memory one, never used, when the definition says usesBus: false). */
  bus: EventBus;
  logger: Logger;
  /** The service's Prometheus registry (served at /metrics). */
  registry: client.Registry;
  /**
   * Registers a resource (a pool, a connection, a client) to close when the service stops or
   * its start fails; closed last-in first-out, after everything that may still use it.
   */
  onClose(name: string, close: () => unknown): void;
  /**
   * Token verification for the service's routes, with the shared list of revoked sessions
   * (throws when the configuration sets no verification key).
   */
  readonly jwt: JwtVerifyOptions;
}

/** What a service's build() hands the kit. Nothing in it has started yet. */
export interface ServiceParts<X> {
  /** Express routers mounted under the kit's app (ids, logs, metrics, health, 404, errors). */
  routers?: Router[];
  /** Readiness checks: stores the service cannot work without. */
  health?: Record<string, HealthCheck>;
  /**
   * Dependencies it works without (a cache): down, readiness says `degraded` and stays 200.
   * The kit adds the event bus here: events wait in the outbox, consumers resume after.
   */
  degradedBy?: Record<string, HealthCheck>;
  /**
   * Serves this instead of the kit's app (the gateway: its own edge path and app). The kit
   * still listens, drains and closes it.
   */
  server?: { app: Express; handler: RequestListener; configure?(server: Server): void };
  /** Subscriptions, started after build in this order. */
  consumers?: ((observer: ConsumerObserver) => Promise<ConsumerHandle>)[];
  /** Started after the consumers, stopped in reverse order. */
  workers?: Worker[];
  /** What launchers and tests may reach on the running service (stores, use cases). */
  exports: X;
}

export interface ServiceDefinition<C extends ServiceBaseConfig, O, X> {
  /** 'order': logger `order-service`, consumer group and bus connection `order`. */
  name: string;
  /** false for a service that neither publishes nor consumes (the gateway): no bus at all. */
  usesBus?: boolean;
  configSchema: Joi.ObjectSchema<C>;
  /**
   * Opens the stores (registering each with ctx.onClose), runs migrations and wires the
   * domain; starts nothing. `options` are a launcher's or a test's replacements.
   */
  build(ctx: ServiceContext<C>, options: O): Promise<ServiceParts<X>>;
}

export interface StartOptions<C, O> {
  config: C;
  /**
   * The bus. A shared one (launchers, saga tests) stays open when the service stops; without
   * one the kit opens its own from the configuration. `ownsBus` hands a given bus over.
   */
  bus?: EventBus;
  ownsBus?: boolean;
  logger?: Logger;
  options?: O;
  /** The revoked-session list (default: Redis when REDIS_URL is set, else the process's own). */
  revocations?: SessionRevocations;
}

export type RunningService<X> = X & {
  name: string;
  app: Express;
  server: Server;
  /** `http://127.0.0.1:<port>` (the real port when PORT=0). */
  url: string;
  registry: client.Registry;
  /**
   * Stops listening and drains HTTP, stops consumers (waiting for handlers in flight) and
   * workers, closes its own bus, then closes the stores. Once; later calls share the promise.
   */
  stop(): Promise<void>;
};

export interface Service<C extends ServiceBaseConfig, O, X> extends ServiceDefinition<C, O, X> {
  start(options: StartOptions<C, O>): Promise<RunningService<X>>;
}

/**
 * The service kit: one start order and one stop order for every service.
 * Start: build (stores, migrations, wiring) → consumers → workers → listen. A failure at any
 * step undoes what was done, in reverse. Stop: stop listening and drain HTTP → consumers
 * (handlers in flight finish) → workers → the bus, when the kit opened it → stores.
 */
export function defineService<C extends ServiceBaseConfig, O = Record<string, never>, X = object>(
  definition: ServiceDefinition<C, O, X>,
): Service<C, O, X> {
  return {
    ...definition,
    async start({ config, bus: given, ownsBus, logger: givenLogger, options, revocations }) {
      // Once per process (later services share it); off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
      startTracingFromConfig(config as TracingConfig, `${definition.name}-service`);
      const logger = givenLogger ?? createLogger(`${definition.name}-service`, config.LOG_LEVEL);
      const usesBus = definition.usesBus !== false;
      const bus =
        given ??
        (usesBus
          ? createEventBus(config as EventBusConfig, { service: definition.name, logger })
          : new InMemoryEventBus({ logger }));
      const closesBus = !given || ownsBus === true;
      const closers: { name: string; close: () => unknown }[] = [];
      const handles: ConsumerHandle[] = [];
      const started: Worker[] = [];
      let server: Server | undefined;
      let registry: client.Registry | undefined;

      const teardown = async (): Promise<void> => {
        let failure: unknown;
        const step = async (name: string, fn: () => unknown) => {
          try {
            await fn();
          } catch (err) {
            failure ??= err;
            logger.error('stop step failed', { step: name, error: (err as Error).message });
          }
        };
        if (server) {
          const s = server;
          await step('http', () => closeHttpServer(s, config.SHUTDOWN_TIMEOUT_MS));
        }
        for (const h of handles.splice(0)) await step('consumers', () => h.stop());
        for (const w of started.splice(0).reverse()) await step('worker', () => w.stop());
        if (closesBus) await step('event bus', () => bus.close());
        for (const c of closers.splice(0).reverse()) await step(c.name, c.close);
        await step('tracing', () => flushTracing());
        if (failure) throw failure;
      };

      try {
        const verify = verifyOptions(config);
        let jwt: JwtVerifyOptions | null = null;
        if (verify) {
          const list =
            revocations ?? sessionRevocationsFromConfig(config as EventBusConfig, logger);
          if (!revocations) closers.push({ name: 'revocation list', close: () => list.close() });
          jwt = { ...verify, revocations: list };
        }
        const ctx: ServiceContext<C> = {
          config,
          bus,
          logger,
          get jwt() {
            if (!jwt) throw new Error('JWT verification key is not configured');
            return jwt;
          },
          get registry() {
            return (registry ??= new client.Registry());
          },
          onClose: (name, close) => closers.push({ name, close }),
        };
        const parts = await definition.build(ctx, (options ?? {}) as O);
        let app: Express;
        let listener: RequestListener;
        if (parts.server) {
          ({ app, handler: listener } = parts.server);
        } else {
          const built = createServiceApp({
            service: definition.name,
            logger,
            registry: ctx.registry,
            checks: parts.health ?? {},
            degradedBy: {
              ...parts.degradedBy,
              ...(usesBus ? { eventBus: () => bus.health() } : {}),
            },
            bodyLimit: config.BODY_LIMIT,
            metricsAccess: { token: config.METRICS_TOKEN },
            ...(config.TRUST_PROXY ? { trustProxy: trustProxySetting(config.TRUST_PROXY) } : {}),
          });
          built.mount(...(parts.routers ?? []));
          if (usesBus && parts.consumers?.length && jwt) {
            built.mount(
              deadLetterRoutes({ service: definition.name, group: definition.name, bus, jwt }),
            );
          }
          app = built.finish();
          listener = app;
        }
        const observer = consumerMetrics(ctx.registry);
        for (const subscribe of parts.consumers ?? []) handles.push(await subscribe(observer));
        for (const worker of parts.workers ?? []) {
          // Its background work (relays, the anchorer) is the service's in traces.
          await inService(`${definition.name}-service`, () => worker.start());
          started.push(worker);
        }
        const listening = await listenHttp(
          traceRequests(`${definition.name}-service`, listener),
          config.PORT,
          config.HOST,
        );
        server = listening.server;
        parts.server?.configure?.(listening.server);
        logger.info(`${definition.name} service listening`, { url: listening.url });
        let stopping: Promise<void> | undefined;
        return {
          ...parts.exports,
          name: definition.name,
          app,
          server: listening.server,
          url: listening.url,
          registry: ctx.registry,
          stop: () => (stopping ??= teardown()),
        };
      } catch (err) {
        await teardown().catch(() => undefined);
        throw err;
      }
    },
  };
}
