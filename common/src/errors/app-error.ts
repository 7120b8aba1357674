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

export class ValidationError extends AppError {
  constructor(message = 'Request validation failed', details?: unknown) {
    super(400, 'VALIDATION_ERROR', message, details);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required', details?: unknown) {
    super(401, 'UNAUTHORIZED', message, details);
  }
}

export class ForbiddenError extends AppError {
  constructor(message = 'You are not allowed to do this', details?: unknown) {
    super(403, 'FORBIDDEN', message, details);
  }
}

export class NotFoundError extends AppError {
  constructor(message = 'Resource not found', details?: unknown) {
    super(404, 'NOT_FOUND', message, details);
  }
}

export class ConflictError extends AppError {
  constructor(message = 'Conflict with the current state', details?: unknown) {
    super(409, 'CONFLICT', message, details);
  }
}

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
