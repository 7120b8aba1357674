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

type LogMethod = (this: Logger, ...args: unknown[]) => Logger;

/**
 * Makes a call below the logger's level (and every transport's) return at once. winston runs
 * the formats of every call (the context, the timestamp, the JSON text) and leaves the level to
 * the transports, so a debug line that nobody prints cost as much as one that is printed.
 * Children (`logger.child`) inherit the checks; `level` may still change at run time.
 */
function skipDisabledLevels(logger: Logger): Logger {
  const methods = logger as unknown as Record<string, LogMethod>;
  for (const level of Object.keys(logger.levels)) {
    const write = methods[level]!;
    methods[level] = function (this: Logger | undefined, ...args: unknown[]) {
      // Detached calls (`.catch(logger.error)`) have no `this`: winston's own fall back too.
      const self = this ?? logger;
      return self.isLevelEnabled(level) ? write.apply(self, args) : self;
    };
  }
  const log = methods.log!;
  methods.log = function (this: Logger | undefined, ...args: unknown[]) {
    const self = this ?? logger;
    // log('warn', ...) names its level; log({ level, ... }) carries it.
    const level = typeof args[0] === 'string' ? args[0] : (args[0] as { level?: unknown })?.level;
    return typeof level === 'string' && !self.isLevelEnabled(level) ? self : log.apply(self, args);
  };
  return logger;
}

/** JSON lines on stdout, one per event; LOG_LEVEL=silent keeps test output clean. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return skipDisabledLevels(
    winston.createLogger({
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
    }),
  );
}
