import { randomUUID } from 'node:crypto';
import {
  createEvent,
  generateEs256KeyPair,
  InMemoryEventBus,
  signAccessToken,
  type AuthUser,
  type EventBus,
  type EventEnvelope,
} from '@ecom/common';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';
import { loadProductConfig, type ProductConfig } from '../src/config';
import { startProductService, type RunningProductService } from '../src/service';

const keys = generateEs256KeyPair();

/** The public key matching tokenFor's signatures (for a service's JWT_PUBLIC_KEY). */
export function testJwtPublicKey(): string {
  return keys.publicKey;
}

export function tokenFor(user: AuthUser): string {
  return `Bearer ${signAccessToken(user, {
    algorithm: 'ES256',
    key: keys.privateKey,
    issuer: 'ecom-auth',
    audience: 'ecom-api',
    expiresIn: '15m',
  })}`;
}

export const admin: AuthUser = { id: 'admin-1', role: 'admin' };
export const seller: AuthUser = { id: 'seller-1', role: 'seller' };
export const otherSeller: AuthUser = { id: 'seller-2', role: 'seller' };
export const customer: AuthUser = { id: 'customer-1', role: 'customer' };

export interface Harness {
  service: RunningProductService;
  bus: InMemoryEventBus;
  mongo: TestMongo;
  config: ProductConfig;
  /** Every event the service published, in order. */
  published: EventEnvelope[];
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
}

export async function startHarness(
  label: string,
  env: Record<string, string> = {},
  options: HarnessOptions = {},
): Promise<Harness> {
  const mongo = await createTestMongo(label);
  const bus = new InMemoryEventBus({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
  const published: EventEnvelope[] = [];
  await bus.subscribe({
    group: 'test-observer',
    eventTypes: OUR_EVENTS,
    handler: async (event) => {
      published.push(event);
    },
  });
  const config = loadProductConfig({
    MONGO_URL: mongo.url,
    JWT_PUBLIC_KEY: keys.publicKey,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    CACHE_DRIVER: 'memory',
    ...env,
  });
  const service = await startProductService({
    config,
    bus: options.wrapBus ? options.wrapBus(bus) : bus,
  });
  return {
    service,
    bus,
    mongo,
    config,
    published,
    publishedOf: (type) =>
      published.filter((e) => e.eventType === type).map((e) => e.data as Record<string, unknown>),
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
