/**
 * The driver instrumentations: spans for PostgreSQL (pg), MongoDB (the driver, and mongoose's
 * model calls), Redis (ioredis), RabbitMQ (amqplib) and Express's route handlers. They patch
 * each module when it is first required, so they are registered by `@ecom/common/instrument`,
 * which every entry point imports before anything else. Spans go to the global tracer provider
 * that startTracing sets later (the API's proxy hands them over once it is set).
 *
 * Store calls start no trace of their own (`requireParentSpan`): a query made for a request or
 * an event is a child of its span; the outbox relay's and the sweepers' polling are not traced.
 */
export function registerDriverInstrumentations(
  /** Drivers left uninstrumented (OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg,ioredis'). */
  disabled: ReadonlySet<string> = new Set(),
): () => void {
  // Required here only: a process without tracing never loads them.
  const { registerInstrumentations } =
    require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { MongoDBInstrumentation } =
    require('@opentelemetry/instrumentation-mongodb') as typeof import('@opentelemetry/instrumentation-mongodb');
  const { MongooseInstrumentation } =
    require('@opentelemetry/instrumentation-mongoose') as typeof import('@opentelemetry/instrumentation-mongoose');
  const { IORedisInstrumentation } =
    require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  const { AmqplibInstrumentation } =
    require('@opentelemetry/instrumentation-amqplib') as typeof import('@opentelemetry/instrumentation-amqplib');
  const { ExpressInstrumentation, ExpressLayerType } =
    require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const all = {
    // A pool checkout is not a query: two spans per query (pg.connect, pg-pool.connect) dropped.
    pg: () => new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
    mongodb: () => new MongoDBInstrumentation({ requireParentSpan: true }),
    mongoose: () => new MongooseInstrumentation({ requireParentSpan: true }),
    ioredis: () => new IORedisInstrumentation({ requireParentSpan: true }),
    // The bus publishes in the event's own context (inEventContext), so the broker's publish
    // and consume spans join the saga's trace.
    amqplib: () => new AmqplibInstrumentation(),
    // Route handlers only: a span per middleware and router would bury the queries. The kit's
    // own server span (http-spans.ts) is the request's span.
    express: () =>
      new ExpressInstrumentation({
        ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
      }),
  };
  return registerInstrumentations({
    instrumentations: Object.entries(all)
      .filter(([name]) => !disabled.has(name))
      .map(([, make]) => make()),
  });
}
