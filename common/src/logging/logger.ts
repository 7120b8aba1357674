import { context, trace } from '@opentelemetry/api';
import winston from 'winston';
import { getContext } from './context';

export type Logger = winston.Logger;

/**
 * Adds the async context (correlation id, request id, user) to every line, and the active
 * span's traceId/spanId while tracing is on (off, the API's no-op context has no span).
 */
const contextFormat = winston.format((info) => {
  const span = trace.getSpan(context.active());
  if (span) {
    const { traceId, spanId } = span.spanContext();
    info.traceId ??= traceId;
    info.spanId ??= spanId;
  }
  const ctx = getContext();
  if (ctx) {
    info.correlationId ??= ctx.correlationId;
    if (ctx.requestId) info.requestId ??= ctx.requestId;
    if (ctx.causationId) info.causationId ??= ctx.causationId;
    if (ctx.userId) info.userId ??= ctx.userId;
  }
  return info;
});

/** JSON lines on stdout, one per event; LOG_LEVEL=silent keeps test output clean. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return winston.createLogger({
    level: level === 'silent' ? 'error' : level,
    silent: level === 'silent',
    defaultMeta: { service },
    format: winston.format.combine(
      contextFormat(),
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console()],
  });
}
