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
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
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
