import type { SendFailure } from '../domain/rules';

/** One message to send. */
export interface OutgoingMail {
  to: { name: string; address: string };
  subject: string;
  text: string;
  html: string;
  /** Stable per notification: a resend after a crash carries the same Message-ID. */
  messageId: string;
}

/** The port the sender sends through (SMTP in production and tests: mail/smtp-mailer.ts). */
export interface Mailer {
  /**
   * Resolves once the server accepted the message; rejects when it did not, with MailNotSent
   * saying why (any other error counts as SEND_FAILED, temporary).
   */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/**
 * A send the server did not accept, and why. The message is the server's own text, for the
 * service's log only: what is recorded and shown is `failure`.
 */
export class MailNotSent extends Error {
  constructor(
    readonly failure: SendFailure,
    message: string,
    /** The server's reply code, when it replied. */
    readonly replyCode?: number,
  ) {
    super(message);
    this.name = 'MailNotSent';
  }
}
