import type { Express } from 'express';
import {
  createServiceApp,
  type HealthCheck,
  type JwtVerifyOptions,
  type Logger,
} from '@ecom/common';
import type { Accounts } from './accounts';
import { authRouter, usersRouter } from './http/routes';

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
  return finish();
}
