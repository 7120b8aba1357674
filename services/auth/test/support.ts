import request from 'supertest';
import type { Express } from 'express';
import {
  createLogger,
  generateEs256KeyPair,
  InMemoryEventBus,
  type EventBus,
  type EventEnvelope,
} from '@ecom/common';
import { createTestMongo, type TestMongo } from '@ecom/infrastructure/testing';
import { loadAuthConfig, type AuthConfig } from '../src/config';
import { createBcryptHasher, type PasswordHasher } from '../src/security/password-hasher';
import { buildAuth, type AuthComponents } from '../src/service';

export const ADMIN = { email: 'root@shop.test', password: 'Admin-pass-1', name: 'Root' };
export const PASSWORD = 'Correct-horse-9';

/** One ES256 pair per test run: generating one per file is cheap, but one is enough. */
export const KEYS = generateEs256KeyPair();

export function testConfig(mongoUrl: string, env: Record<string, string> = {}): AuthConfig {
  return loadAuthConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    MONGO_URL: mongoUrl,
    JWT_PRIVATE_KEY: KEYS.privateKey,
    JWT_PUBLIC_KEY: KEYS.publicKey,
    BCRYPT_ROUNDS: '4',
    LOGIN_MAX_FAILURES: '3',
    LOGIN_LOCKOUT_SECONDS: '60',
    LOGIN_FAILURE_WINDOW_SECONDS: '120',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ADMIN_NAME: ADMIN.name,
    ...env,
  });
}

/** A clock tests move forward instead of sleeping (lockout, token expiry). */
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
  auth: AuthComponents;
  bus: InMemoryEventBus;
  /** Every user.* event the bus delivered, in order. */
  events: EventEnvelope[];
  clock: TestClock;
  hasher: SpyHasher;
  config: AuthConfig;
  mongo: TestMongo;
  /** Another instance of the service on the same database (as behind a load balancer). */
  secondInstance(): Promise<AuthComponents>;
  close(): Promise<void>;
}

export async function startTestAuth(
  label: string,
  options: { env?: Record<string, string>; bus?: EventBus } = {},
): Promise<TestAuth> {
  const mongo = await createTestMongo(label);
  const config = testConfig(mongo.url, options.env);
  const bus = new InMemoryEventBus({ retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  const events: EventEnvelope[] = [];
  await bus.subscribe({
    group: 'test',
    eventTypes: ['user.created', 'user.updated', 'user.deleted'],
    handler: async (event) => {
      events.push(event);
    },
  });
  const clock = new TestClock();
  const hasher = await spyHasher();
  const logger = createLogger('auth-test', 'silent');
  const extra: AuthComponents[] = [];
  const build = () =>
    buildAuth({
      config,
      bus: options.bus ?? bus,
      logger,
      hasher,
      now: clock.now,
      outboxRelayIntervalMs: 50,
    });
  const auth = await build();
  return {
    app: auth.app,
    auth,
    bus,
    events,
    clock,
    hasher,
    config,
    mongo,
    async secondInstance() {
      const other = await build();
      extra.push(other);
      return other;
    },
    async close() {
      for (const a of [auth, ...extra]) {
        await a.events.stop();
        await a.connection.close();
      }
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

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
