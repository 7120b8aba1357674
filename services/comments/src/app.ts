import type { Express } from 'express';
import {
  createServiceApp,
  type HealthCheck,
  type JwtVerifyOptions,
  type Logger,
} from '@ecom/common';
import { createCommentsUseCases, type CommentRules } from './comments';
import type { CommentEventPublisher } from './events';
import { commentsRouter } from './http/routes';
import type { ProductCatalog } from './products';
import type { Stores } from './store';

export interface CommentsAppDeps {
  stores: Stores;
  catalog: ProductCatalog;
  events: CommentEventPublisher;
  logger: Logger;
  jwt: JwtVerifyOptions;
  rules: CommentRules;
  maxTextLength: number;
  checks?: Record<string, HealthCheck>;
  bodyLimit?: string;
  now?: () => Date;
}

/** The comments service's Express app, built from injected dependencies. */
export function createCommentsApp(deps: CommentsAppDeps): Express {
  const { app, finish } = createServiceApp({
    service: 'comments-service',
    logger: deps.logger,
    checks: deps.checks,
    bodyLimit: deps.bodyLimit,
  });
  const useCases = createCommentsUseCases({
    stores: deps.stores,
    catalog: deps.catalog,
    events: deps.events,
    rules: deps.rules,
    now: deps.now,
  });
  app.use(
    '/api/comments',
    commentsRouter({ useCases, jwt: deps.jwt, maxTextLength: deps.maxTextLength }),
  );
  return finish();
}
