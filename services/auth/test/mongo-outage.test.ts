import request from 'supertest';
import { InMemoryEventBus } from '@ecom/common/bus';
import { createTestMongo, startTcpRelay, type TcpRelay, type TestMongo } from '@ecom/test-support';
import { authService, type RunningAuthService } from '../src';
import { logger, PASSWORD, testConfig } from './support';

// The service reaches MongoDB through a relay the test cuts: MongoDB vanishes under it.
let mongo: TestMongo;
let relay: TcpRelay;
let auth: RunningAuthService;
const bus = new InMemoryEventBus();

beforeAll(async () => {
  mongo = await createTestMongo('auth_outage');
  const target = new URL(mongo.url.replace(/^mongodb:/, 'http:'));
  relay = await startTcpRelay(target.hostname, Number(target.port || 27017));
  auth = await authService.start({
    config: testConfig(`mongodb://${relay.address}/${mongo.dbName}?directConnection=true`),
    bus,
    logger,
  });
});
afterAll(async () => {
  await auth?.stop();
  await relay?.close();
  await bus.close();
  await mongo?.cleanup();
});

it('answers 503 DEPENDENCY_UNAVAILABLE and not ready when MongoDB is gone', async () => {
  expect((await request(auth.app).get('/health/ready')).status).toBe(200);
  relay.cut();
  const res = await request(auth.app)
    .post('/api/auth/login')
    .send({ email: 'someone@example.test', password: PASSWORD });
  expect(res.status).toBe(503);
  expect(res.body.error).toMatchObject({
    code: 'DEPENDENCY_UNAVAILABLE',
    details: { dependency: 'store' },
  });
  expect(JSON.stringify(res.body)).not.toMatch(/Mongo\w*Error|at \w+ \(/);
  const ready = await request(auth.app).get('/health/ready');
  expect(ready.status).toBe(503);
  expect(ready.body.checks.mongodb.status).toBe('down');
}, 20_000);
