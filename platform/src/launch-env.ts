import { PORTS } from './demo';

export type BusKind = 'memory' | 'redis' | 'rabbitmq';

/** EVENT_BUS when set; else RabbitMQ when AMQP_URL is set, Redis when REDIS_URL is, else memory. */
export function chooseBus(env: NodeJS.ProcessEnv): BusKind {
  if (env.EVENT_BUS) return env.EVENT_BUS as BusKind;
  if (env.AMQP_URL) return 'rabbitmq';
  if (env.REDIS_URL) return 'redis';
  return 'memory';
}

export interface RunningPorts {
  services: Record<keyof typeof PORTS, number>;
  mongo: number;
  orderDb: number;
  paymentDb: number;
  notificationDb: number;
  /** The embedded mail catcher: its SMTP port and its inbox page (Mailpit's ports). */
  mailSmtp: number;
  mailInbox: number;
  chain: number;
}

/** The documented ports, each overridable by its variable. */
export function defaultPorts(env: NodeJS.ProcessEnv): RunningPorts {
  return {
    services: PORTS,
    mongo: Number(env.MONGO_PORT ?? 27017),
    orderDb: Number(env.ORDER_DB_PORT ?? 5433),
    paymentDb: Number(env.PAYMENT_DB_PORT ?? 5434),
    notificationDb: Number(env.NOTIFICATION_DB_PORT ?? 5435),
    mailSmtp: Number(env.MAIL_SMTP_PORT ?? 1025),
    mailInbox: Number(env.MAIL_INBOX_PORT ?? 8025),
    chain: Number(env.CHAIN_PORT ?? 8545),
  };
}

/** A URL with its password replaced by ***, for printing. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
}
