/**
 * One error model for every service. Domain code throws these; the HTTP error handler maps
 * them to `{ error: { code, message, details, requestId } }` with the matching status.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** An AppError class of one status and code, with a default message. */
function errorClass(
  status: number,
  code: string,
  defaultMessage: string,
): new (message?: string, details?: unknown) => AppError {
  return class extends AppError {
    constructor(message = defaultMessage, details?: unknown) {
      super(status, code, message, details);
    }
  };
}

export class ValidationError extends errorClass(
  400,
  'VALIDATION_ERROR',
  'Request validation failed',
) {}

export class UnauthorizedError extends errorClass(401, 'UNAUTHORIZED', 'Authentication required') {}

export class ForbiddenError extends errorClass(
  403,
  'FORBIDDEN',
  'You are not allowed to do this',
) {}

export class NotFoundError extends errorClass(404, 'NOT_FOUND', 'Resource not found') {}

export class ConflictError extends errorClass(409, 'CONFLICT', 'Conflict with the current state') {}

/** A well-formed request that breaks a business rule (e.g. refund above the amount paid). */
export class BusinessRuleError extends AppError {
  constructor(message: string, details?: unknown, code = 'BUSINESS_RULE_VIOLATION') {
    super(422, code, message, details);
  }
}

export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many requests',
    details?: unknown,
  ) {
    super(429, 'RATE_LIMITED', message, details);
  }
}

export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, message?: string, details?: unknown) {
    super(503, 'DEPENDENCY_UNAVAILABLE', message ?? `${dependency} is unavailable`, {
      dependency,
      ...(details && typeof details === 'object' ? details : {}),
    });
  }
}

export class GatewayTimeoutError extends AppError {
  constructor(dependency: string) {
    super(504, 'UPSTREAM_TIMEOUT', `${dependency} did not answer in time`, { dependency });
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
