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

/**
 * Express's router could not percent-decode a path parameter (`/api/products/%ff`): it throws
 * a URIError marked 400 but not `expose`. The kit's app refuses such paths before routing;
 * this covers any other app.
 */
function fromRouter(err: unknown): AppError | undefined {
  if (err instanceof URIError && (err as BodyParserError).status === 400) {
    return new AppError(
      400,
      'MALFORMED_URL',
      'The request path is not valid percent-encoded UTF-8',
    );
  }
  return undefined;
}

/**
 * PostgreSQL refusing text: 22021 (character_not_in_repertoire: a NUL) and 22P05
 * (untranslatable_character). The kit refuses such input before any route; should some reach
 * the store anyway, it is still the request's text, not a server fault. Duck-typed on the
 * code, like isDependencyUnavailable, so common needs no driver.
 */
const UNSTORABLE_TEXT_CODES = new Set(['22021', '22P05']);

function fromStore(err: unknown): AppError | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth += 1) {
    const { code, cause } = e as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code)) {
      return new AppError(400, 'VALIDATION_ERROR', 'Request text cannot be stored');
    }
    e = cause;
  }
  return undefined;
}

/**
 * A path that exists, asked with a method it does not take: 405 with the methods it takes in
 * Allow (RFC 9110 §15.5.6), so a client learns its mistake rather than that the path is wrong.
 */
export function methodNotAllowedHandler(allowed: (path: string) => string[]): RequestHandler {
  return (req, res, next) => {
    const methods = allowed(req.path);
    if (!methods.length) return next();
    res.setHeader('Allow', methods.join(', '));
    next(
      new AppError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here`, {
        allowed: methods,
      }),
    );
  };
}

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    // errorBody bounds the echoed path.
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
    let appError: AppError;
    if (err instanceof AppError) {
      appError = err;
    } else if (isDependencyUnavailable(err)) {
      // A store or broker that cannot be reached: the client may try again.
      appError = new DependencyUnavailableError(
        'store',
        'A store this service needs is unavailable',
      );
      logger.warn('store unavailable', { error: (err as Error).message, path: req.originalUrl });
    } else {
      const stored = fromStore(err);
      if (stored) {
        // Text the edge should have refused reached the store: worth knowing about.
        logger.warn('store refused request text', {
          error: (err as Error).message,
          path: req.path,
        });
      }
      appError =
        stored ??
        fromRouter(err) ??
        fromBodyParser(err as BodyParserError) ??
        new AppError(500, 'INTERNAL_ERROR', 'Internal server error');
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
