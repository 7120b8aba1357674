import { InMemoryEventBus, generateEs256KeyPair, ConfigError } from '@ecom/common';
import { createTestMongo } from '@ecom/infrastructure/testing';
import request from 'supertest';
import { loadCommentsConfig } from '../src/config';
import { startCommentsService } from '../src/service';

describe('startCommentsService', () => {
  it('serves health checks on a free port and leaves nothing open after stop()', async () => {
    const mongo = await createTestMongo('comments_service');
    const bus = new InMemoryEventBus();
    const { publicKey } = generateEs256KeyPair();
    const service = await startCommentsService({
      config: loadCommentsConfig({
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: '0',
        MONGO_URL: mongo.url,
        JWT_PUBLIC_KEY: publicKey,
      }),
      bus,
    });
    try {
      expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const ready = await request(service.url).get('/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'ok',
        service: 'comments-service',
        checks: { mongo: { status: 'up' }, bus: { status: 'up' } },
      });
      const metrics = await request(service.url).get('/metrics');
      expect(metrics.text).toContain('http_requests_total');
      const unknown = await request(service.url).get('/api/nothing');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('NOT_FOUND');
      // The unique index that enforces one review per user per product exists.
      const indexes = await service.connection.collection('comments').indexes();
      expect(indexes.find((i) => i.key.reviewSlot === 1)).toMatchObject({ unique: true });
    } finally {
      await service.stop();
      await bus.close();
    }
    expect(service.server.listening).toBe(false);
    expect(service.connection.readyState).toBe(0);
    await service.stop(); // idempotent
    await mongo.cleanup();
  });

  it('reports a dead bus on /health/ready', async () => {
    const mongo = await createTestMongo('comments_service_health');
    const bus = new InMemoryEventBus();
    const { publicKey } = generateEs256KeyPair();
    const service = await startCommentsService({
      config: loadCommentsConfig({
        LOG_LEVEL: 'silent',
        HOST: '127.0.0.1',
        PORT: '0',
        MONGO_URL: mongo.url,
        JWT_PUBLIC_KEY: publicKey,
      }),
      bus,
    });
    try {
      await bus.close();
      const ready = await request(service.url).get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.bus.status).toBe('down');
    } finally {
      await service.stop();
      await mongo.cleanup();
    }
  });
});

describe('startCommentsService on a shared bus', () => {
  it('refuses deliveries after stop() so the bus keeps them, and fails cleanly on a taken port', async () => {
    const mongo = await createTestMongo('comments_service_shared');
    const bus = new InMemoryEventBus({ retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 10 } });
    const { publicKey } = generateEs256KeyPair();
    const env = {
      LOG_LEVEL: 'silent',
      HOST: '127.0.0.1',
      PORT: '0',
      MONGO_URL: mongo.url,
      JWT_PUBLIC_KEY: publicKey,
    };
    const service = await startCommentsService({ config: loadCommentsConfig(env), bus });
    const port = new URL(service.url).port;
    // A second instance on the same port: the start fails and closes what it opened.
    await expect(
      startCommentsService({ config: loadCommentsConfig({ ...env, PORT: port }), bus }),
    ).rejects.toThrow(/EADDRINUSE/);
    await service.stop();

    await bus.publish({
      eventId: crypto.randomUUID(),
      eventType: 'product.deleted',
      timestamp: new Date().toISOString(),
      version: '1.0',
      source: 'test',
      data: { productId: 'p-after-stop' },
      metadata: { correlationId: crypto.randomUUID() },
    });
    await new Promise((resolve) => setImmediate(resolve));
    await bus.idle();
    // Both subscriptions (the stopped service and the failed start) refused it: nothing was
    // handled against a closed connection, and the bus kept the event with the reason.
    expect(bus.deadLetters.length).toBeGreaterThan(0);
    expect(bus.deadLetters.map((d) => d.reason)).toContain('comments service is stopping');
    await bus.close();
    await mongo.cleanup();
  });
});

describe('configuration', () => {
  const { publicKey } = generateEs256KeyPair();
  it('has the documented defaults', () => {
    const config = loadCommentsConfig({ JWT_PUBLIC_KEY: publicKey });
    expect(config).toMatchObject({
      PORT: 3003,
      MONGO_URL: 'mongodb://127.0.0.1:27017/comments_db',
      PRODUCT_SERVICE_URL: 'http://127.0.0.1:3002',
      FLAG_HIDE_THRESHOLD: 3,
      MAX_THREAD_DEPTH: 3,
      COMMENT_MAX_LENGTH: 5000,
      EVENT_BUS: 'memory',
    });
  });

  it.each([
    ['FLAG_HIDE_THRESHOLD', '0'],
    ['PORT', '70000'],
    ['MONGO_URL', 'http://not-mongo'],
    ['PRODUCT_SERVICE_URL', 'ftp://x'],
    ['MAX_THREAD_DEPTH', 'deep'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    expect(() => loadCommentsConfig({ JWT_PUBLIC_KEY: publicKey, [name]: value })).toThrow(
      ConfigError,
    );
    expect(() => loadCommentsConfig({ JWT_PUBLIC_KEY: publicKey, [name]: value })).toThrow(name);
  });

  it('requires the JWT public key', () => {
    expect(() => loadCommentsConfig({})).toThrow('JWT_PUBLIC_KEY');
  });
});
