import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, DependencyUnavailableError, RateLimitedError } from '../errors/app-error';
import { isDependencyUnavailable } from '../errors/unavailable';
import { errorBody } from '../errors/error-body';
import type { Logger } from '../logging/logger';

interface BodyParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
}

/** Body-parser failures are the client's mistake: answer them in the common shape. */
function fromBodyParser(err: BodyParserError): AppError | undefined {
  switch (err.type) {
    case 'entity.parse.failed':
      return new AppError(400, 'MALFORMED_JSON', 'Request body is not valid JSON');
    case 'entity.too.large':
      return new AppError(413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(415, 'UNSUPPORTED_ENCODING', 'Unsupported body encoding');
    case 'request.aborted':
      return new AppError(400, 'REQUEST_ABORTED', 'Request was aborted');
    default: {
      const status = err.status ?? err.statusCode;
      if (err.expose && status && status >= 400 && status < 500) {
        return new AppError(status, 'BAD_REQUEST', 'Bad request');
      }
      return undefined;
    }
  }
}

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    next(new AppError(404, 'NOT_FOUND', `No route for ${req.method} ${req.path}`));
  };
}

/**
 * Last middleware of every app: typed errors keep their status and code, anything else is
 * a 500 whose details stay in the log, never in the response.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const appError =
      err instanceof AppError
        ? err
        : isDependencyUnavailable(err)
          ? // A store or broker that cannot be reached: the client may try again.
            new DependencyUnavailableError('store', 'A store this service needs is unavailable')
          : (fromBodyParser(err as BodyParserError) ??
            new AppError(500, 'INTERNAL_ERROR', 'Internal server error'));
    if (appError.status === 503 && !(err instanceof AppError)) {
      logger.warn('store unavailable', { error: (err as Error).message, path: req.originalUrl });
    }
    if (appError.status >= 500) {
      logger.error('request failed', { err, path: req.originalUrl, method: req.method });
    }
    if (appError instanceof RateLimitedError) {
      res.setHeader('Retry-After', String(appError.retryAfterSeconds));
    }
    res
      .status(appError.status)
      .json(errorBody(appError.code, appError.message, appError.details, req.requestId));
  };
}
