import Joi from 'joi';
import type { MongoConfig, ServiceConfig } from '@ecom/common/config';
import { loadConfig, mongoConfigKeys, serviceConfigKeys, serviceUrls } from '@ecom/common/config';

export interface CommentsConfig extends ServiceConfig, MongoConfig {
  PRODUCT_SERVICE_URL: string[];
  PRODUCT_TIMEOUT_MS: number;
  FLAG_REVIEW_THRESHOLD: number;
  FLAG_HIDE_THRESHOLD: number;
  FLAG_TRUSTED_ACCOUNT_AGE_DAYS: number;
  MAX_THREAD_DEPTH: number;
  COMMENT_MAX_LENGTH: number;
  MAX_REPLIES_PER_PAGE: number;
  OUTBOX_RELAY_INTERVAL_MS: number;
}

/** The highest COMMENT_MAX_LENGTH: the API spec's bound on `text`, whatever is configured. */
export const COMMENT_MAX_LENGTH_LIMIT = 20000;

export const commentsConfigSchema = Joi.object<CommentsConfig>({
  ...serviceConfigKeys(3003),
  ...mongoConfigKeys('comments_db'),
  PRODUCT_SERVICE_URL: serviceUrls('http://127.0.0.1:3002'),
  PRODUCT_TIMEOUT_MS: Joi.number().integer().min(50).max(30000).default(2000),
  // Flags (any account) that queue a comment for moderators; it stays visible.
  FLAG_REVIEW_THRESHOLD: Joi.number().integer().min(1).max(1000).default(3),
  // Trusted flags (accounts this old, in good standing) that hide a comment pending review.
  FLAG_HIDE_THRESHOLD: Joi.number().integer().min(1).max(1000).default(5),
  FLAG_TRUSTED_ACCOUNT_AGE_DAYS: Joi.number().integer().min(0).max(3650).default(30),
  MAX_THREAD_DEPTH: Joi.number().integer().min(1).max(10).default(3),
  COMMENT_MAX_LENGTH: Joi.number().integer().min(1).max(COMMENT_MAX_LENGTH_LIMIT).default(5000),
  MAX_REPLIES_PER_PAGE: Joi.number().integer().min(1).max(5000).default(500),
  OUTBOX_RELAY_INTERVAL_MS: Joi.number().integer().min(10).max(600000).default(1000),
});

/** Validates the environment (throws ConfigError naming the bad variable). */
export function loadCommentsConfig(env: NodeJS.ProcessEnv = process.env): CommentsConfig {
  return loadConfig(commentsConfigSchema, env);
}
