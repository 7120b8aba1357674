import request from 'supertest';
import { createLogger, InMemoryEventBus } from '@ecom/common';
import { startMongoStandIn, type MongoStandIn } from '@ecom/infrastructure/mongo';
import { isMongoUnavailable } from '../src/store/connection';
import { buildAuth, type AuthComponents } from '../src/service';
import { PASSWORD, testConfig } from './support';

// Its own stand-in (not createTestMongo): the test stops the server under the service.
let standIn: MongoStandIn;
let auth: AuthComponents;
const bus = new InMemoryEventBus();

beforeAll(async () => {
  standIn = await startMongoStandIn({ port: 0 });
  auth = await buildAuth({
    config: testConfig(`${standIn.url}/auth_outage`),
    bus,
    logger: createLogger('auth-test', 'silent'),
  });
});
afterAll(async () => {
  await auth.events.stop();
  await auth.connection.close(true);
  await bus.close();
});

it('answers 503 DEPENDENCY_UNAVAILABLE and not ready when MongoDB is gone', async () => {
  expect((await request(auth.app).get('/health/ready')).status).toBe(200);
  await standIn.stop();
  const res = await request(auth.app)
    .post('/api/auth/login')
    .send({ email: 'someone@example.test', password: PASSWORD });
  expect(res.status).toBe(503);
  expect(res.body.error).toMatchObject({
    code: 'DEPENDENCY_UNAVAILABLE',
    message: 'mongodb is unavailable',
    details: { dependency: 'mongodb' },
  });
  expect(JSON.stringify(res.body)).not.toMatch(/Mongo\w*Error|at \w+ \(/);
  const ready = await request(auth.app).get('/health/ready');
  expect(ready.status).toBe(503);
  expect(ready.body.checks.mongodb.status).toBe('down');
}, 20_000);

it('tells connection failures from other errors', () => {
  const selection = Object.assign(new Error('x'), { name: 'MongoServerSelectionError' });
  expect(isMongoUnavailable(selection)).toBe(true);
  expect(isMongoUnavailable(new Error('wrapped', { cause: selection }))).toBe(true);
  expect(
    isMongoUnavailable(new Error('Operation `users.findOne()` buffering timed out after 10000ms')),
  ).toBe(true);
  expect(
    isMongoUnavailable(Object.assign(new Error('dup'), { code: 11000, name: 'MongoServerError' })),
  ).toBe(false);
  expect(isMongoUnavailable(new Error('boom'))).toBe(false);
  expect(isMongoUnavailable(undefined)).toBe(false);
});
