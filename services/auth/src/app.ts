import type { ErrorRequestHandler, Express } from 'express';
import {
  createServiceApp,
  DependencyUnavailableError,
  type HealthCheck,
  type JwtVerifyOptions,
  type Logger,
} from '@ecom/common';
import type { Accounts } from './accounts';
import { authRouter, usersRouter } from './http/routes';
import { isMongoUnavailable } from './store/connection';

/** MongoDB out of reach is a 503 the client may retry, not a 500. */
const mongoUnavailable: ErrorRequestHandler = (err, _req, _res, next) => {
  next(isMongoUnavailable(err) ? new DependencyUnavailableError('mongodb') : err);
};

export interface AuthAppDeps {
  accounts: Accounts;
  /** Verifies access tokens on protected routes (public key only). */
  jwt: JwtVerifyOptions;
  logger: Logger;
  checks: Record<string, HealthCheck>;
  bodyLimit?: string;
}

/** The Express app from injected dependencies (tests build it on the MongoDB stand-in). */
export function createAuthApp(deps: AuthAppDeps): Express {
  const { app, finish } = createServiceApp({
    service: 'auth-service',
    logger: deps.logger,
    checks: deps.checks,
    bodyLimit: deps.bodyLimit,
  });
  app.use('/api/auth', authRouter(deps.accounts, deps.jwt));
  app.use('/api/users', usersRouter(deps.accounts, deps.jwt));
  app.use(mongoUnavailable);
  return finish();
}
