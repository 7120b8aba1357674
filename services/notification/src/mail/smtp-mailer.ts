import nodemailer from 'nodemailer';
import { MailNotSent, type Mailer, type OutgoingMail } from '../application/mailer';
import type { SendFailure } from '../domain/rules';

export interface SmtpOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465); otherwise STARTTLS is used when the server offers it. */
  secure: boolean;
  user?: string;
  password?: string;
  /** The From header: `Name <address>`. */
  from: string;
  /** Bounds connecting, the greeting and each command: a hung server is a failed attempt. */
  timeoutMs: number;
}

/** What nodemailer sets on its errors: its own code, the server's reply code, the command answered. */
interface SmtpError {
  code?: string;
  responseCode?: number;
  command?: string;
}

/** Errors with no reply at all: nothing was said about this mail, the server was not there. */
const UNREACHABLE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS']);

/**
 * What a failed send means for the notification. Only a permanent reply (5xx; 503 is a wrong
 * state of the session, not a refusal) about this mail's recipient or content ends it: a 5xx
 * to the service's own greeting, AUTH or MAIL FROM is a configuration matter, retried so that a
 * fix delivers what waits.
 */
function smtpFailure(err: SmtpError): SendFailure {
  const reply = err.responseCode;
  if (!reply)
    return UNREACHABLE_CODES.has(err.code ?? '') ? 'MAIL_SERVER_UNREACHABLE' : 'SEND_FAILED';
  const permanent = reply >= 500 && reply < 600 && reply !== 503;
  if (permanent && err.command === 'RCPT TO') return 'RECIPIENT_REFUSED';
  if (permanent && err.command === 'DATA') return 'MESSAGE_REFUSED';
  return 'MAIL_SERVER_UNAVAILABLE';
}

/** Connections kept open to the relay: mails go out concurrently up to this, then queue. */
const POOL_CONNECTIONS = 5;

/**
 * The Mailer over SMTP (nodemailer): Mailpit in compose, a real relay in production.
 *
 * Pooled: a mail reuses an open connection (MAIL, RCPT, DATA) instead of paying the TCP
 * connect, the greeting, EHLO, STARTTLS's handshake, AUTH and QUIT every time; that set-up was
 * most of a mail's round trips. A connection idle for a little under the socket timeout is
 * closed by us (QUIT), not timed out. A connection lost in the middle of a mail fails that send
 * (no silent re-send by the pool): the notification records the failed attempt and retries it
 * on its own schedule, as before.
 */
export function createSmtpMailer(options: SmtpOptions): Mailer {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: POOL_CONNECTIONS,
    // A connection that closes while sending fails the mail; nodemailer's default would queue
    // it again (up to 5 times) when the close came without an error.
    maxRequeues: 0,
    idleTimeout: Math.max(100, options.timeoutMs - 1000),
    host: options.host,
    port: options.port,
    secure: options.secure,
    ...(options.user ? { auth: { user: options.user, pass: options.password ?? '' } } : {}),
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  });
  return {
    async send(mail: OutgoingMail): Promise<void> {
      try {
        await transport.sendMail({
          from: options.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          messageId: mail.messageId,
        });
      } catch (err) {
        const e = err as Error & SmtpError;
        throw new MailNotSent(smtpFailure(e), e.message, e.responseCode);
      }
    },
    close: () => transport.close(),
  };
}
