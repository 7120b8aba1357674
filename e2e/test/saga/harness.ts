import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import request from 'supertest';
import winston from 'winston';
import { Types } from 'mongoose';
import type { AuthUser } from '@ecom/common/auth';
import {
  InMemoryEventBus,
  createEventBus,
  type EventBus,
  type EventEnvelope,
} from '@ecom/common/bus';
import { loadConfig } from '@ecom/common/config';
import { createLogger, type Logger } from '@ecom/common/logging';
import { orderConfigSchema, orderService, type RunningOrderService } from '@ecom/order-service';
import {
  MockPaymentGateway,
  paymentConfigSchema,
  type PaymentGateway,
  paymentService,
  type RunningPaymentService,
} from '@ecom/payment-service';
import {
  loadProductConfig,
  productService,
  type RunningProductService,
} from '@ecom/product-service';
import {
  bearer,
  createTestMongo,
  createTestPostgres,
  eventually as pollUntil,
  removeBusNamespace,
  testServiceEnv,
  type TestMongo,
  type TestPostgres,
} from '@ecom/test-support';

export type BusKind = 'memory' | 'redis' | 'rabbitmq';

const REAL_RETRY = { baseDelayMs: 50, maxDelayMs: 500, maxAttempts: 8 };

export const SAGA_EVENTS = [
  'order.created',
  'order.confirmed',
  'order.failed',
  'order.cancelled',
  'order.completed',
  'inventory.reserved',
  'inventory.rejected',
  'payment.initiated',
  'payment.completed',
  'payment.failed',
  'payment.refunded',
];

export { bearer };

export const customer: AuthUser = { id: 'saga-customer', role: 'customer' };
export const seller: AuthUser = { id: 'saga-seller', role: 'seller' };

export const address = {
  name: 'Saga Tester',
  line1: '1 Event Way',
  city: 'Streamtown',
  postalCode: '10101',
  country: 'US',
};

/** The saga's waits: longer than a unit test's, since real brokers retry with backoff. */
export function eventually<T>(
  fn: () => Promise<T> | T,
  what: string,
  timeoutMs = 15000,
): Promise<NonNullable<T>> {
  return pollUntil(fn, { what, timeoutMs, intervalMs: 25 });
}

export interface LogLine {
  message: string;
  correlationId?: string;
  orderId?: string;
  eventId?: string;
  [key: string]: unknown;
}

/** A real winston logger (context format included) writing its JSON lines to an array. */
function capturingLogger(service: string, lines: LogLine[]): Logger {
  const logger = createLogger(service, 'info');
  logger.clear();
  logger.add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, callback) {
          for (const line of chunk.toString().split('\n')) {
            if (line.trim()) lines.push(JSON.parse(line) as LogLine);
          }
          callback();
        },
      }),
    }),
  );
  return logger;
}

export interface SagaOptions {
  kind: BusKind;
  label: string;
  /** Redis / RabbitMQ URL for the real adapters. */
  url?: string;
  /** Keep log lines in `logs` (default true); the benchmark turns it off. */
  captureLogs?: boolean;
  /** Called for every saga event the spy sees (the benchmark times order.confirmed). */
  onEvent?: (event: EventEnvelope) => void;
  /** Extra environment per service (e.g. the anchoring variables), applied last. */
  env?: {
    order?: Record<string, string>;
    payment?: Record<string, string>;
    product?: Record<string, string>;
  };
  /**
   * Instances of order and of payment (default 1): each on the same database and bus
   * namespace with its own bus connection and port, as replicas in separate processes.
   */
  replicas?: number;
  /** The gateway every payment replica calls (default a fresh MockPaymentGateway). */
  gateway?: MockPaymentGateway;
  /** The gateway payment replica `index` calls instead (e.g. one per replica on one ledger). */
  replicaGateway?: (index: number) => PaymentGateway;
}

/**
 * Product, payment and order in this process with their real stores (MongoDB stand-in or
 * MONGO_URL for product, a PostgreSQL database each for payment and order) over one bus kind.
 * With a real adapter each service has its own bus connection (as separate processes would)
 * under a unique prefix, so one service can be stopped and restarted alone.
 */
export class Saga {
  readonly events: EventEnvelope[] = [];
  readonly logs: LogLine[] = [];
  readonly gateway: MockPaymentGateway;
  product!: RunningProductService;
  payment!: RunningPaymentService;
  order!: RunningOrderService;
  /** Every replica (the first is `order` / `payment`), with `replicas` > 1. */
  readonly orders: RunningOrderService[] = [];
  readonly payments: RunningPaymentService[] = [];
  /** Events each replica's handlers ran (bus name, e.g. 'order#2', → count), with `replicas` > 1. */
  readonly handled = new Map<string, number>();
  private mongo!: TestMongo;
  get mongoUrl(): string {
    return this.mongo.url;
  }
  get orderDbUrl(): string {
    return this.orderDb.url;
  }
  get paymentDbUrl(): string {
    return this.paymentDb.url;
  }
  private orderDb!: TestPostgres;
  private paymentDb!: TestPostgres;
  private shared?: InMemoryEventBus;
  private readonly buses = new Map<string, EventBus>();
  private readonly prefix = `saga-${randomUUID().slice(0, 8)}`;

  constructor(private readonly options: SagaOptions) {
    this.gateway = options.gateway ?? new MockPaymentGateway();
  }

  /** The bus name of replica `index` (0-based) of a service: 'order', 'order#2', ... */
  static replicaName(service: 'order' | 'payment', index: number): string {
    return index === 0 ? service : `${service}#${index + 1}`;
  }

  /** The bus connection a service (or replica, by its replicaName) uses. */
  busOf(name: string): EventBus | undefined {
    return this.buses.get(name);
  }

  /** A bus connection of its own under this saga's namespace (closed with the saga). */
  connectBus(name: string): EventBus {
    return this.busFor(name);
  }

  /** A replica's bus whose handlers count into `handled` (only with several replicas). */
  private replicaBus(name: string): EventBus {
    const bus = this.busFor(name);
    if ((this.options.replicas ?? 1) <= 1) return bus;
    const handled = this.handled;
    return {
      durable: bus.durable,
      replayWindowMs: bus.replayWindowMs,
      publish: (event) => bus.publish(event),
      health: () => bus.health(),
      close: () => bus.close(),
      listDeadLetters: (group) => bus.listDeadLetters(group),
      replayDeadLetters: (group, select) => bus.replayDeadLetters(group, select),
      discardDeadLetters: (group, select) => bus.discardDeadLetters(group, select),
      subscribe: (options) =>
        bus.subscribe({
          ...options,
          handler: async (event, context) => {
            await options.handler(event, context);
            handled.set(name, (handled.get(name) ?? 0) + 1);
          },
        }),
    };
  }

  private logger(service: string): Logger {
    return this.options.captureLogs === false
      ? createLogger(service, 'silent')
      : capturingLogger(service, this.logs);
  }

  private newBus(service: string): EventBus {
    const logger = this.logger(`${service}-bus`);
    if (this.options.kind === 'memory') {
      this.shared ??= new InMemoryEventBus({
        logger,
        retry: { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 8 },
      });
      return this.shared;
    }
    return createEventBus(
      {
        EVENT_BUS: this.options.kind,
        ...(this.options.kind === 'redis'
          ? { REDIS_URL: this.options.url }
          : { AMQP_URL: this.options.url }),
      },
      {
        service,
        logger,
        prefix: this.prefix,
        retry: REAL_RETRY,
      },
    );
  }

  private busFor(service: string): EventBus {
    let bus = this.buses.get(service);
    if (!bus) {
      bus = this.newBus(service);
      this.buses.set(service, bus);
    }
    return bus;
  }

  async start(): Promise<this> {
    const { label } = this.options;
    [this.mongo, this.orderDb, this.paymentDb] = await Promise.all([
      createTestMongo(`${label}_product`),
      createTestPostgres(`${label}_order`),
      createTestPostgres(`${label}_payment`),
    ]);
    await this.busFor('spy').subscribe({
      group: 'saga-spy',
      eventTypes: SAGA_EVENTS,
      handler: async (event) => {
        this.events.push(event);
        this.options.onEvent?.(event);
      },
    });
    this.product = await productService.start({
      config: loadProductConfig({
        ...testServiceEnv,
        MONGO_URL: this.mongo.url,
        CACHE_DRIVER: 'off',
        ...this.options.env?.product,
      }),
      bus: this.busFor('product'),
    });
    await this.startPayment();
    for (let i = 1; i < (this.options.replicas ?? 1); i++) {
      this.payments.push(await this.startPaymentReplica(i));
    }
    for (let i = 0; i < (this.options.replicas ?? 1); i++) {
      const replica = await orderService.start({
        config: loadConfig(orderConfigSchema, {
          ...testServiceEnv,
          DATABASE_URL: this.orderDb.url,
          PRODUCT_SERVICE_URL: this.product.url,
          OUTBOX_POLL_INTERVAL_MS: '50',
          ...this.options.env?.order,
        }),
        bus: this.replicaBus(Saga.replicaName('order', i)),
        logger: this.logger('order-service'),
      });
      if (i === 0) this.order = replica;
      this.orders.push(replica);
    }
    return this;
  }

  async startPayment(): Promise<void> {
    this.payment = await this.startPaymentReplica(0);
    this.payments[0] = this.payment;
  }

  private startPaymentReplica(index: number): Promise<RunningPaymentService> {
    return paymentService.start({
      config: loadConfig(paymentConfigSchema, {
        ...testServiceEnv,
        DATABASE_URL: this.paymentDb.url,
        OUTBOX_POLL_INTERVAL_MS: '50',
        ...this.options.env?.payment,
      }),
      bus: this.replicaBus(Saga.replicaName('payment', index)),
      options: { gateway: this.options.replicaGateway?.(index) ?? this.gateway },
      logger: this.logger('payment-service'),
    });
  }

  /** Stops payment like a crashed/stopped process: its consumers, relay, pool and (real adapters) bus. */
  async stopPayment(): Promise<void> {
    await this.payment.stop();
    if (this.options.kind !== 'memory') {
      await this.buses.get('payment')?.close();
      this.buses.delete('payment');
    }
  }

  async createProduct(inventory: number, price = 12.5): Promise<string> {
    const res = await request(this.product.app)
      .post('/api/products')
      .set('Authorization', bearer(seller))
      .send({ name: `Saga item ${randomUUID().slice(0, 6)}`, price, inventory });
    if (res.status !== 201)
      throw new Error(`product create: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  }

  async stock(productId: string) {
    const doc = await this.product.connection
      .collection('products')
      .findOne({ _id: new Types.ObjectId(productId) });
    if (!doc) throw new Error(`no product ${productId}`);
    return {
      available: doc.available as number,
      reserved: doc.reserved as number,
      sold: doc.sold as number,
    };
  }

  async reservations(orderId: string): Promise<number> {
    return this.product.connection.collection('reservations').countDocuments({ orderId });
  }

  async placeOrder(
    items: Array<{ productId: string; quantity: number }>,
    token: string | null,
    correlationId = `corr-${randomUUID()}`,
  ): Promise<{ id: string; correlationId: string; total: number }> {
    const res = await request(this.order.app)
      .post('/api/orders')
      .set('Authorization', bearer(customer))
      .set('x-correlation-id', correlationId)
      .send({
        items,
        shippingAddress: address,
        ...(token ? { payment: { method: 'card', token } } : {}),
      });
    if (res.status !== 201)
      throw new Error(`place order: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body.id, correlationId, total: res.body.total.amount };
  }

  async orderStatus(orderId: string): Promise<string> {
    const { rows } = await this.order.pool.query('SELECT status FROM orders WHERE id = $1', [
      orderId,
    ]);
    return rows[0]?.status;
  }

  waitOrder(orderId: string, status: string): Promise<boolean> {
    return eventually(async () => (await this.orderStatus(orderId)) === status, `order ${status}`);
  }

  async paymentRow(orderId: string) {
    const { rows } = await this.payment.pool.query('SELECT * FROM payments WHERE order_id = $1', [
      orderId,
    ]);
    return rows[0] as { id: string; status: string; attempts: number } | undefined;
  }

  of(type: string, orderId: string): EventEnvelope[] {
    return this.events.filter(
      (e) => e.eventType === type && (e.data as { orderId?: string }).orderId === orderId,
    );
  }

  forOrder(orderId: string): EventEnvelope[] {
    return this.events.filter((e) => (e.data as { orderId?: string }).orderId === orderId);
  }

  /** Publishes an already published envelope again (same eventId), as a redelivery would. */
  async redeliver(event: EventEnvelope): Promise<void> {
    await this.busFor('spy').publish(event);
  }

  async settle(ms = 300): Promise<void> {
    if (this.shared) await this.shared.idle();
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  async close(): Promise<void> {
    for (const replica of new Set([this.order, ...this.orders]))
      await replica?.stop().catch(() => undefined);
    for (const replica of new Set([this.payment, ...this.payments]))
      await replica?.stop().catch(() => undefined);
    await this.product?.stop().catch(() => undefined);
    for (const bus of new Set(this.buses.values())) await bus.close().catch(() => undefined);
    await Promise.all([this.mongo?.cleanup(), this.orderDb?.cleanup(), this.paymentDb?.cleanup()]);
    await this.deleteBusTopology().catch(() => undefined);
  }

  /** Leaves nothing of this run's unique namespace on the Redis / RabbitMQ server. */
  private async deleteBusTopology(): Promise<void> {
    const { kind, url } = this.options;
    if (url && kind !== 'memory') await removeBusNamespace(kind, url, this.prefix);
  }
}
