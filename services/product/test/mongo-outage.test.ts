import net from 'node:net';
import request from 'supertest';
import { InMemoryEventBus } from '@ecom/common/bus';
import { bearer, createTestMongo, type TestMongo } from '@ecom/test-support';
import { productService, type RunningProductService } from '../src/service';
import { seller, testConfig } from './support/helpers';

/** A TCP relay to MongoDB that the test can cut and restore, as a network outage would. */
async function startRelay(target: { host: string; port: number }, port = 0) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async cut() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let mongo: TestMongo;
let target: { host: string; port: number };
let relay: Awaited<ReturnType<typeof startRelay>>;
let bus: InMemoryEventBus;
let service: RunningProductService;

beforeAll(async () => {
  mongo = await createTestMongo('product_outage');
  const url = new URL(mongo.url);
  target = { host: url.hostname, port: Number(url.port || 27017) };
  relay = await startRelay(target);
  bus = new InMemoryEventBus();
  service = await productService.start({
    config: testConfig(`mongodb://127.0.0.1:${relay.port}${url.pathname}`, {
      MONGO_SERVER_SELECTION_TIMEOUT_MS: '500',
      // Every read reaches MongoDB.
      CACHE_DRIVER: 'off',
    }),
    bus,
  });
});
afterAll(async () => {
  await service?.stop();
  await relay?.cut();
  await bus?.close();
  await mongo?.cleanup();
});

it('answers 503 DEPENDENCY_UNAVAILABLE and not ready while MongoDB is unreachable, then recovers', async () => {
  const created = await request(service.app)
    .post('/api/products')
    .set('Authorization', bearer(seller))
    .send({ name: 'Outage', price: 1, inventory: 1 })
    .expect(201);
  const path = `/api/products/${created.body.id}`;

  await relay.cut();
  for (const req of [
    request(service.app).get(path),
    request(service.app).get('/api/products'),
    request(service.app)
      .put(`${path}/inventory`)
      .set('Authorization', bearer(seller))
      .send({ set: 5 }),
  ]) {
    const res = await req;
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(JSON.stringify(res.body)).not.toMatch(/Mongo\w*Error|at \w+ \(/);
  }
  const ready = await request(service.app).get('/health/ready');
  expect(ready.status).toBe(503);
  expect(ready.body.checks.mongodb.status).toBe('down');

  // The same address again: the driver reconnects on its own.
  relay = await startRelay(target, relay.port);
  const back = await request(service.app).get(path);
  expect(back.status).toBe(200);
  expect(back.body.inventory.available).toBe(1);
}, 20_000);
