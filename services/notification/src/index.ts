/** The package's public surface: what the platform launcher and tests use. */
export * from './service';
export { notificationConfigSchema, type NotificationConfig } from './config';
export type { Mailer, OutgoingMail } from './application/mailer';
export { createSmtpMailer, type SmtpOptions } from './mail/smtp-mailer';
export { NOTIFICATION_KINDS, type NotificationKind } from './domain/kinds';
