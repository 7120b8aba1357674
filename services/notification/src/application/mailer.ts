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
  /** Resolves once the server accepted the message; rejects when it did not. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}
