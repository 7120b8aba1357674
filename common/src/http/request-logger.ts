import type { RequestHandler } from 'express';
import type { Logger } from '../logging/logger';
import { routeLabel } from './route-label';

/** One log line per request, written when the response is finished. */
export function requestLogger(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'http';
      logger.log(level, 'request', {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        route: routeLabel(req),
        status: res.statusCode,
        durationMs: Math.round(durationMs * 10) / 10,
        requestId: req.requestId,
        correlationId: req.correlationId,
        userId: req.user?.id,
      });
    });
    next();
  };
}
