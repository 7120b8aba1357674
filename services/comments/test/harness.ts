import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import {
  generateEs256KeyPair,
  InMemoryEventBus,
  signAccessToken,
  type EventBus,
  type EventEnvelope,
  type Role,
} from '@ecom/common';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';
import { loadCommentsConfig } from '../src/config';
import { startCommentsService, type RunningCommentsService } from '../src/service';

/** A 24-hex id like the product service issues. */
export const newProductId = (): string => randomBytes(12).toString('hex');

/**
 * A real HTTP server standing in for the product service at its boundary:
 * `GET /api/products/:id` → 200 for known ids, 404 otherwise; `mode` makes it fail.
 */
export class ProductServiceStub {
  readonly products = new Set<string>();
  mode: 'up' | 'error' | 'slow' = 'up';
  calls = 0;
  /** Runs before each answer (tests use it to interleave events with a request). */
  beforeAnswer?: () => Promise<void>;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.calls += 1;
      const match = /^\/api\/products\/([^/?]+)$/.exec(req.url ?? '');
      if (this.mode === 'error') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{}}');
        return;
      }
      const answer = () => {
        if (match && this.products.has(decodeURIComponent(match[1]!))) {
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ id: match[1] }));
        } else {
          res
            .writeHead(404, { 'content-type': 'application/json' })
            .end('{"error":{"code":"NOT_FOUND","message":"Product not found"}}');
        }
      };
      if (this.mode === 'slow') setTimeout(answer, 1000).unref();
      else if (this.beforeAnswer) void this.beforeAnswer().then(answer);
      else answer();
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  add(): string {
    const id = newProductId();
    this.products.add(id);
    return id;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface Harness {
  service: RunningCommentsService;
  bus: InMemoryEventBus;
  products: ProductServiceStub;
  mongo: TestMongo;
  /** Every comment.* event published, in order. */
  published: EventEnvelope[];
  token(userId: string, role?: Role): string;
  http(): ReturnType<typeof request>;
  /** Documents in a collection of the service's database (to prove nothing was written). */
  count(collection: string, filter?: Record<string, unknown>): Promise<number>;
  settle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(
  label: string,
  env: Record<string, string> = {},
  options: { wrapBus?: (bus: InMemoryEventBus) => EventBus } = {},
): Promise<Harness> {
  const mongo = await createTestMongo(label);
  const products = new ProductServiceStub();
  await products.start();
  const keys = generateEs256KeyPair();
  const bus = new InMemoryEventBus({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
  const published: EventEnvelope[] = [];
  await bus.subscribe({
    group: 'test-observer',
    eventTypes: ['comment.created', 'comment.updated', 'comment.deleted', 'comment.flagged'],
    handler: async (event) => {
      published.push(event);
    },
  });
  const config = loadCommentsConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    MONGO_URL: mongo.url,
    JWT_PUBLIC_KEY: keys.publicKey,
    PRODUCT_SERVICE_URL: products.url,
    PRODUCT_TIMEOUT_MS: '300',
    OUTBOX_RELAY_INTERVAL_MS: '50',
    ...env,
  });
  const service = await startCommentsService({
    config,
    bus: options.wrapBus ? options.wrapBus(bus) : bus,
  });
  const harness: Harness = {
    service,
    bus,
    products,
    mongo,
    published,
    token: (userId, role = 'customer') =>
      signAccessToken(
        { id: userId, role, email: `${userId}@example.test` },
        {
          algorithm: 'ES256',
          key: keys.privateKey,
          issuer: 'ecom-auth',
          audience: 'ecom-api',
          expiresIn: '15m',
        },
      ),
    http: () => request(service.url),
    count: (collection, filter = {}) =>
      service.connection.collection(collection).countDocuments(filter),
    // One turn of the event loop first, so deliveries queued for the next turn have started.
    settle: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      await bus.idle();
    },
    async stop() {
      await bus.close();
      await service.stop();
      await products.stop();
      await mongo.cleanup();
    },
  };
  return harness;
}

/** Publishes an event as another service would. */
export function envelope(eventType: string, data: Record<string, unknown>, eventId?: string) {
  return {
    eventId: eventId ?? crypto.randomUUID(),
    eventType,
    timestamp: new Date().toISOString(),
    version: '1.0',
    source: 'test',
    data,
    metadata: { correlationId: crypto.randomUUID() },
  };
}
