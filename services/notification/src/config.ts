import Joi from 'joi';
import type { PostgresConfig, ServiceConfig } from '@ecom/common/config';
import { postgresConfigKeys, serviceConfigKeys } from '@ecom/common/config';

export interface NotificationConfig extends ServiceConfig, PostgresConfig {
  SMTP_HOST: string;
  SMTP_PORT: number;
  SMTP_SECURE: boolean;
  SMTP_USER?: string;
  SMTP_PASSWORD?: string;
  SMTP_TIMEOUT_MS: number;
  MAIL_FROM: string;
  SEND_INTERVAL_MS: number;
  RETRY_BASE_MS: number;
  RETRY_MAX_MS: number;
  MAX_ATTEMPTS: number;
  RECIPIENT_WAIT_MS: number;
  RECIPIENT_RECHECK_MS: number;
  NOTIFY_RECIPIENT_MAX_PER_HOUR: number;
  NOTIFY_RECIPIENT_RECEIPTS_MAX_PER_HOUR: number;
}

export const notificationConfigSchema = Joi.object<NotificationConfig>({
  ...serviceConfigKeys(3006),
  ...postgresConfigKeys('notification_db'),
  // Mailpit's SMTP port by default (compose, and `npm start`'s embedded server sets its own).
  SMTP_HOST: Joi.string().hostname().default('127.0.0.1'),
  SMTP_PORT: Joi.number().port().default(1025),
  SMTP_SECURE: Joi.boolean().default(false),
  SMTP_USER: Joi.string().max(500),
  SMTP_PASSWORD: Joi.string().max(500),
  SMTP_TIMEOUT_MS: Joi.number().integer().min(100).default(10000),
  MAIL_FROM: Joi.string().max(500).default('Shop <no-reply@shop.example>'),
  /** How often due notifications are looked for (a consumed event wakes the sender at once). */
  SEND_INTERVAL_MS: Joi.number().integer().min(10).default(1000),
  /** Backoff after a failed SMTP attempt: RETRY_BASE_MS, doubled each time, at most RETRY_MAX_MS. */
  RETRY_BASE_MS: Joi.number().integer().min(10).default(5000),
  RETRY_MAX_MS: Joi.number().integer().min(10).default(600000),
  /** Attempts before a notification is FAILED (with the defaults, retries span over two hours). */
  MAX_ATTEMPTS: Joi.number().integer().min(1).max(100).default(20),
  /** An event may come before its customer is known: how long it waits for them. */
  RECIPIENT_WAIT_MS: Joi.number().integer().min(0).default(86400000),
  RECIPIENT_RECHECK_MS: Joi.number().integer().min(10).default(30000),
  /**
   * Mails to one address within any hour; more are recorded SKIPPED (RECIPIENT_RATE_LIMITED),
   * never sent. Receipts (order_confirmed, payment_refunded) go past it, and count, up to
   * NOTIFY_RECIPIENT_RECEIPTS_MAX_PER_HOUR mails of all kinds (ADR 0059).
   */
  NOTIFY_RECIPIENT_MAX_PER_HOUR: Joi.number().integer().min(1).max(10000).default(20),
  NOTIFY_RECIPIENT_RECEIPTS_MAX_PER_HOUR: Joi.number().integer().min(1).max(100000).default(100),
});
