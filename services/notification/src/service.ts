import { periodicTask } from '@ecom/common/lifecycle';
import { Counter } from '@ecom/common/metrics';
import { createPgPool, pgHealth, runMigrations } from '@ecom/common/postgres';
import { defineService, type RunningService } from '@ecom/common/service';
import type { Mailer } from './application/mailer';
import { Notifications } from './application/notifications';
import { Sender } from './application/sender';
import { notificationConfigSchema, type NotificationConfig } from './config';
import { subscribeNotificationConsumers } from './events/consumers';
import { notificationRoutes } from './http/routes';
import { createSmtpMailer } from './mail/smtp-mailer';
import { notificationMigrations } from './store/migrations';

/**
 * A notification added by an event is sent by a pass this soon after, shared with the others
 * added meanwhile: a pass costs its own lock and queries, and with a pass per mail that cost
 * outgrew the mail's under load. A mail leaves a tenth of a second later (or after the pass
 * then running).
 */
const SEND_WINDOW_MS = 100;

/** The window of NOTIFY_RECIPIENT_MAX_PER_HOUR. */
const HOUR_MS = 60 * 60 * 1000;

/** What a launcher or a test may replace. */
export interface NotificationServiceOptions {
  /** The mailer; by default SMTP from SMTP_HOST / SMTP_PORT. */
  mailer?: Mailer;
  /** false: an HTTP-only instance that consumes no events. */
  consume?: boolean;
}

/**
 * The notification service: PostgreSQL (notification_db) with its migrations, the consumers of
 * user, order and payment events, the sender (one pass at a time across replicas), HTTP.
 */
export const notificationService = defineService({
  name: 'notification',
  configSchema: notificationConfigSchema,
  async build(
    { config, bus, logger, registry, onClose, jwt },
    options: NotificationServiceOptions,
  ) {
    const pool = createPgPool(config.DATABASE_URL, config.DATABASE_POOL_MAX, logger, {
      preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
    });
    onClose('postgres', () => pool.end());
    await runMigrations(pool, notificationMigrations);

    const mailer =
      options.mailer ??
      createSmtpMailer({
        host: config.SMTP_HOST,
        port: config.SMTP_PORT,
        secure: config.SMTP_SECURE,
        user: config.SMTP_USER,
        password: config.SMTP_PASSWORD,
        from: config.MAIL_FROM,
        timeoutMs: config.SMTP_TIMEOUT_MS,
      });
    if (!options.mailer) onClose('smtp', () => mailer.close());
    const rateLimited = new Counter({
      name: 'notifications_rate_limited_total',
      help: 'Notifications not sent because their address had its mails for the hour',
      labelNames: ['kind'] as const,
      registers: [registry],
    });
    const sender = new Sender({
      pool,
      mailer,
      logger,
      rateLimited: (kind) => rateLimited.inc({ kind }),
      options: {
        baseMs: config.RETRY_BASE_MS,
        maxMs: config.RETRY_MAX_MS,
        maxAttempts: config.MAX_ATTEMPTS,
        recipientWaitMs: config.RECIPIENT_WAIT_MS,
        recipientRecheckMs: config.RECIPIENT_RECHECK_MS,
        batchSize: 50,
        messageIdDomain: 'notification.ecom.local',
        budget: {
          max: config.NOTIFY_RECIPIENT_MAX_PER_HOUR,
          // Never below the budget: a receipt goes at least as far as any other mail.
          receiptsMax: Math.max(
            config.NOTIFY_RECIPIENT_RECEIPTS_MAX_PER_HOUR,
            config.NOTIFY_RECIPIENT_MAX_PER_HOUR,
          ),
          windowMs: HOUR_MS,
        },
      },
    });
    const sending = periodicTask({
      name: 'notification-sender',
      intervalMs: config.SEND_INTERVAL_MS,
      run: () => sender.run(),
      logger,
    });
    const notifications = new Notifications({ pool });
    return {
      routers: [notificationRoutes({ notifications, jwt })],
      health: { postgres: () => pgHealth(pool) },
      consumers:
        options.consume === false
          ? []
          : [
              (observer) =>
                subscribeNotificationConsumers({
                  bus,
                  pool,
                  logger,
                  observer,
                  added: () => sending.runSoon(SEND_WINDOW_MS),
                }),
            ],
      workers: [
        {
          start: () => {
            sending.start();
            // Whatever was due when the service stopped goes out now, not a tick later.
            void sending.runOnce();
          },
          stop: () => sending.stop(),
        },
      ],
      exports: { pool, sender, sending, notifications },
    };
  },
});

export type RunningNotificationService = RunningService<
  Awaited<ReturnType<typeof notificationService.build>>['exports']
>;
export type { NotificationConfig };
