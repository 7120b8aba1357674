import request from 'supertest';
import type { Express } from 'express';
import { InMemoryEventBus, type EventBus, type EventEnvelope } from '@ecom/common/bus';
import { createLogger } from '@ecom/common/logging';
import {
  createTestMongo,
  spyOnEvents,
  testKeys,
  testServiceEnv,
  type TestMongo,
} from '@ecom/test-support';
import {
  authService,
  loadAuthConfig,
  type AuthConfig,
  type AuthServiceOptions,
  type PasswordHasher,
  type RunningAuthService,
} from '../src';
import { createBcryptHasher } from '../src/application/password-hasher';

export const ADMIN = { email: 'root@shop.test', password: 'Admin-pass-1', name: 'Root' };
export const PASSWORD = 'Correct-horse-9';

export const logger = createLogger('auth-test', 'silent');

/** The service's configuration for tests: the shared test key pair, bcrypt cost 4, a free port. */
export function testConfig(mongoUrl: string, env: Record<string, string> = {}): AuthConfig {
  return loadAuthConfig({
    ...testServiceEnv,
    NODE_ENV: 'test',
    MONGO_URL: mongoUrl,
    JWT_PRIVATE_KEY: testKeys.privateKey,
    BCRYPT_ROUNDS: '4',
    LOGIN_MAX_FAILURES: '3',
    LOGIN_ACCOUNT_MAX_FAILURES: '10',
    LOGIN_BASE_DELAY_SECONDS: '60',
    LOGIN_MAX_DELAY_SECONDS: '240',
    LOGIN_FAILURE_WINDOW_SECONDS: '120',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ADMIN_NAME: ADMIN.name,
    ...env,
  });
}

/** A clock tests move forward instead of sleeping (login throttling, token expiry). */
export class TestClock {
  private offsetMs = 0;
  now = (): Date => new Date(Date.now() + this.offsetMs);
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** The real bcrypt hasher, recording which hash every comparison ran against. */
export interface SpyHasher extends PasswordHasher {
  compared: string[];
}

export async function spyHasher(rounds = 4): Promise<SpyHasher> {
  const real = await createBcryptHasher(rounds);
  const compared: string[] = [];
  return {
    rounds: real.rounds,
    dummyHash: real.dummyHash,
    hash: real.hash,
    needsRehash: real.needsRehash,
    compared,
    compare(password, hash) {
      compared.push(hash);
      return real.compare(password, hash);
    },
  };
}

export interface TestAuth {
  app: Express;
  auth: RunningAuthService;
  bus: InMemoryEventBus;
  /** Every user.* event the bus delivered, in order. */
  events: EventEnvelope[];
  clock: TestClock;
  hasher: SpyHasher;
  config: AuthConfig;
  mongo: TestMongo;
  /**
   * Another instance of the service on the same database (as behind a load balancer), with
   * the same hasher and clock unless `options` replace them; stopped by close().
   */
  secondInstance(
    config?: Partial<AuthConfig>,
    options?: AuthServiceOptions,
  ): Promise<RunningAuthService>;
  close(): Promise<void>;
}

/** The service started on its own database, the in-memory bus and an injected clock and hasher. */
export async function startTestAuth(
  label: string,
  options: { env?: Record<string, string>; bus?: EventBus } = {},
): Promise<TestAuth> {
  const mongo = await createTestMongo(label);
  const config = testConfig(mongo.url, options.env);
  const bus = new InMemoryEventBus({ retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  const { events } = await spyOnEvents(
    bus,
    ['user.created', 'user.updated', 'user.deleted'],
    'test',
  );
  const clock = new TestClock();
  const hasher = await spyHasher();
  const running: RunningAuthService[] = [];
  const start = async (overrides: Partial<AuthConfig> = {}, replaced: AuthServiceOptions = {}) => {
    const service = await authService.start({
      config: { ...config, ...overrides },
      bus: options.bus ?? bus,
      logger,
      options: { hasher, now: clock.now, outboxRelayIntervalMs: 50, ...replaced },
    });
    running.push(service);
    return service;
  };
  const auth = await start();
  return {
    app: auth.app,
    auth,
    bus,
    events,
    clock,
    hasher,
    config,
    mongo,
    secondInstance: start,
    async close() {
      for (const service of running) await service.stop();
      await bus.close();
      await mongo.cleanup();
    },
  };
}

export async function register(
  app: Express,
  body: { email: string; password?: string; name?: string },
) {
  return request(app)
    .post('/api/auth/register')
    .send({ password: PASSWORD, name: 'Test User', ...body });
}

export async function login(app: Express, email: string, password = PASSWORD) {
  return request(app).post('/api/auth/login').send({ email, password });
}

/** Registers (201 asserted) and returns the user and its tokens. */
export async function newUser(app: Express, email: string, password = PASSWORD) {
  const res = await register(app, { email, password });
  if (res.status !== 201)
    throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as {
    user: { id: string; email: string; role: string; name: string };
    accessToken: string;
    refreshToken: string;
  };
}

export async function adminToken(app: Express): Promise<string> {
  const res = await login(app, ADMIN.email, ADMIN.password);
  if (res.status !== 200) throw new Error(`admin login failed: ${res.status}`);
  return (res.body as { accessToken: string }).accessToken;
}

/** The Authorization header of an access token the service issued. */
export const authHeader = (token: string) => ({ Authorization: `Bearer ${token}` });
