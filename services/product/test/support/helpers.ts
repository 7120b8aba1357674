import { randomUUID } from 'node:crypto';
import type { AuthUser } from '@ecom/common/auth';
import { createEvent, InMemoryEventBus, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import { createTestMongo, spyOnEvents, testServiceEnv, type TestMongo } from '@ecom/test-support';
import { loadProductConfig, type ProductConfig } from '../../src/config';
import {
  productService,
  type ProductServiceOptions,
  type RunningProductService,
} from '../../src/service';

export const admin: AuthUser = { id: 'admin-1', role: 'admin' };
export const seller: AuthUser = { id: 'seller-1', role: 'seller' };
export const otherSeller: AuthUser = { id: 'seller-2', role: 'seller' };
export const customer: AuthUser = { id: 'customer-1', role: 'customer' };

/** Product's configuration for a test: port 0, silent, the test key pair, a memory cache. */
export function testConfig(mongoUrl: string, env: Record<string, string> = {}): ProductConfig {
  return loadProductConfig({
    ...testServiceEnv,
    MONGO_URL: mongoUrl,
    CACHE_DRIVER: 'memory',
    ...env,
  });
}

export interface Harness {
  service: RunningProductService;
  bus: InMemoryEventBus;
  mongo: TestMongo;
  config: ProductConfig;
  /** Every event the service published, in order. */
  published: EventEnvelope[];
  /**
   * Payloads of the events of one type, each eventId once, as a consumer sees them (a relay
   * may send an event again when its direct send was slow: delivery is at-least-once).
   */
  publishedOf(type: string): Array<Record<string, unknown>>;
  /** Waits until every delivery, retry and handler on the bus is done. */
  settle(): Promise<void>;
  /** Delivers an event to the service as another service would, and waits until handled. */
  deliver(type: string, data: object): Promise<EventEnvelope>;
  close(): Promise<void>;
}

const OUR_EVENTS = [
  'product.created',
  'product.updated',
  'product.deleted',
  'product.inventory.low',
  'inventory.reserved',
  'inventory.rejected',
];

export interface HarnessOptions {
  /** Wraps the bus the service is given (e.g. one that can fail); observers use the real one. */
  wrapBus?: (bus: InMemoryEventBus) => EventBus;
  options?: ProductServiceOptions;
}

/** The product service on its own database and an in-memory bus that this harness owns. */
export async function startHarness(
  label: string,
  env: Record<string, string> = {},
  options: HarnessOptions = {},
): Promise<Harness> {
  const mongo = await createTestMongo(label);
  const bus = new InMemoryEventBus({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
  const spy = await spyOnEvents(bus, OUR_EVENTS, 'test-observer');
  const config = testConfig(mongo.url, env);
  const service = await productService.start({
    config,
    bus: options.wrapBus ? options.wrapBus(bus) : bus,
    options: options.options,
  });
  return {
    service,
    bus,
    mongo,
    config,
    published: spy.events,
    publishedOf: (type) =>
      [...new Map(spy.of(type).map((e) => [e.eventId, e])).values()].map(
        (e) => e.data as Record<string, unknown>,
      ),
    settle: () => settle(bus),
    async deliver(type, data) {
      const event = createEvent('test', type, data);
      await bus.publish(event);
      await settle(bus);
      return event;
    },
    async close() {
      await service.stop();
      await bus.close();
      await mongo.cleanup();
    },
  };
}

/** The harness of a test file: started before its tests, closed after them. */
export function useHarness(label: string, env: Record<string, string> = {}): Harness {
  const h = {} as Harness;
  beforeAll(async () => {
    Object.assign(h, await startHarness(label, env));
  });
  afterAll(() => h.close());
  return h;
}

/**
 * One event-loop turn first, so deliveries scheduled for the next turn have started, then
 * the bus's own idle().
 */
export async function settle(bus: InMemoryEventBus): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await bus.idle();
}

export function newOrderId(): string {
  return `ord-${randomUUID()}`;
}

/** An order.created payload as the order service publishes it (prices in minor units). */
export function orderCreated(
  orderId: string,
  items: Array<{ productId: string; quantity: number }>,
  unitPrice = 1250,
) {
  return {
    orderId,
    userId: 'customer-1',
    items: items.map((i) => ({ ...i, unitPrice, name: 'Saga item' })),
    total: {
      amount: items.reduce((sum, i) => sum + i.quantity * unitPrice, 0),
      currency: 'USD',
    },
    payment: null,
  };
}

/** An order.confirmed payload as the order service publishes it. */
export function orderConfirmed(
  orderId: string,
  items: Array<{ productId: string; quantity: number }>,
) {
  return { orderId, userId: 'customer-1', items, total: { amount: 0, currency: 'USD' } };
}
