import { SMTPServer } from 'smtp-server';
import { loadConfig } from '@ecom/common/config';
import { testServiceEnv } from '@ecom/test-support';
import { notificationConfigSchema, type NotificationConfig } from '../src/config';

export const STARTUP_TIMEOUT_MS = 60_000;

/** The ports this workspace's tests listen on (31000-31999 is theirs on this machine). */
export const SMTP_PORTS = { component: 31061, rabbitmq: 31062 } as const;

/** The configuration of a notification service under test: short retries, no logs. */
export function testConfig(
  databaseUrl: string,
  smtpPort: number,
  env: Record<string, string> = {},
): NotificationConfig {
  return loadConfig(notificationConfigSchema, {
    ...testServiceEnv,
    DATABASE_URL: databaseUrl,
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtpPort),
    SMTP_TIMEOUT_MS: '3000',
    SEND_INTERVAL_MS: '100',
    RETRY_BASE_MS: '200',
    RETRY_MAX_MS: '1000',
    RECIPIENT_RECHECK_MS: '200',
    ...env,
  });
}

/** An SMTP reply other than success: its code (4xx temporary, 5xx permanent) and text. */
export interface Refusal {
  code: number;
  text: string;
}

/** smtp-server replies to a callback's error with its responseCode and message. */
const replyError = ({ code, text }: Refusal) =>
  Object.assign(new Error(text), { responseCode: code });

export interface CapturedMail {
  from: string;
  to: string[];
  raw: string;
  messageId: string | null;
}

/**
 * A real SMTP server (the smtp-server package) keeping what it receives; it can be stopped and
 * started again on the same port (an outage).
 */
export class TestSmtp {
  readonly mails: CapturedMail[] = [];
  /** Connections accepted since the first start. */
  connections = 0;
  /** RCPT TO commands received per address, refused or not. */
  readonly rcpts = new Map<string, number>();
  /** Addresses whose RCPT TO gets this reply instead of 250 (e.g. 550 refused, 450 later). */
  readonly refuseRecipient = new Map<string, Refusal>();
  /** Addresses whose message gets this reply at the end of DATA instead of 250. */
  readonly refuseMessage = new Map<string, Refusal>();
  private server: SMTPServer | null = null;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // A stop is an outage: connections kept open by a client are told 421 and closed soon.
      closeTimeout: 200,
      onConnect: (_session, callback) => {
        this.connections++;
        callback();
      },
      onRcptTo: (address, _session, callback) => {
        this.rcpts.set(address.address, (this.rcpts.get(address.address) ?? 0) + 1);
        const refusal = this.refuseRecipient.get(address.address);
        callback(refusal ? replyError(refusal) : undefined);
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          const refusal = session.envelope.rcptTo
            .map((r) => this.refuseMessage.get(r.address))
            .find(Boolean);
          if (refusal) return callback(replyError(refusal));
          this.mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            messageId: /^Message-ID:\s*(\S+)/im.exec(raw)?.[1] ?? null,
          });
          callback();
        });
      },
    });
    server.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  to(address: string): CapturedMail[] {
    return this.mails.filter((m) => m.to.includes(address));
  }
}
