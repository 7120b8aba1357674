import request from 'supertest';
import type { Express, Request } from 'express';
import { clientAddress } from '../src/http/routes';
import { ADMIN, authHeader, newUser, PASSWORD, startTestAuth, type TestAuth } from './support';

/**
 * Login throttling (docs/adr/0016): failures are counted per (account, client address) and
 * per account; an address that keeps failing for an account waits, growing delays, for that
 * account only; nothing an attacker does keeps the owner out, the admin included.
 *
 * The test requests come from loopback, which the service trusts as a proxy (as it trusts the
 * gateway in one process), so X-Forwarded-For stands for the client address the gateway saw.
 */
const POLICY = {
  LOGIN_MAX_FAILURES: '3', // per address and account: the 3rd failure starts the delays
  LOGIN_ACCOUNT_MAX_FAILURES: '10', // per account, all addresses: then every address from its 1st
  LOGIN_BASE_DELAY_SECONDS: '60', // 60, 120, 240, 240 …
  LOGIN_MAX_DELAY_SECONDS: '240',
  LOGIN_FAILURE_WINDOW_SECONDS: '600',
};

let t: TestAuth;
beforeAll(async () => {
  t = await startTestAuth('auth_login_throttling', { env: POLICY });
});
afterAll(async () => t.close());

const A = '203.0.113.10';
const B = '198.51.100.20';
let next = 0;
/** A client address nobody used yet. */
function freshAddress(): string {
  next += 1;
  return `198.18.${Math.floor(next / 250)}.${(next % 250) + 1}`;
}

function loginFrom(app: Express, address: string, email: string, password = PASSWORD) {
  return request(app)
    .post('/api/auth/login')
    .set('X-Forwarded-For', address)
    .send({ email, password });
}

async function statusesFrom(address: string, email: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i += 1)
    statuses.push((await loginFrom(t.app, address, email, `Wrong-guess-${i}`)).status);
  return statuses;
}

const MINUTE = 60_000;

describe('per (account, address): the attacker waits, the owner does not', () => {
  it.each([
    ['a customer', 'owner@example.test', PASSWORD],
    ['the admin', ADMIN.email, ADMIN.password],
  ])(
    'many wrong passwords from one address never keep %s out from another',
    async (_who, email, password) => {
      if (email !== ADMIN.email) await newUser(t.app, email);
      // 3 failures evaluated (the 3rd already answers 429), then refused unevaluated.
      expect(await statusesFrom(A, email, 12)).toEqual([401, 401, ...Array(10).fill(429)]);

      const owner = await loginFrom(t.app, B, email, password);
      expect(owner.status).toBe(200);
      expect(owner.body.user.email).toBe(email);
      // A, still waiting, is not released by the owner's login; once its delay has passed, the
      // right password from A works too.
      expect((await loginFrom(t.app, A, email, password)).status).toBe(429);
      t.clock.advance(61_000);
      expect((await loginFrom(t.app, A, email, password)).status).toBe(200);
    },
  );

  it('delays one address with 429 login_throttled, Retry-After and growing delays, for that account only', async () => {
    await newUser(t.app, 'growing@example.test');
    await newUser(t.app, 'neighbour@example.test');
    const email = 'growing@example.test';
    expect((await loginFrom(t.app, A, email, 'Bad-guess-1')).status).toBe(401);
    expect((await loginFrom(t.app, A, email, 'Bad-guess-2')).status).toBe(401);
    const third = await loginFrom(t.app, A, email, 'Bad-guess-3');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('60');
    expect(third.body.error).toMatchObject({
      code: 'RATE_LIMITED',
      details: { reason: 'login_throttled', retryAfterSeconds: 60 },
    });

    // While A waits even the right password is refused, before any bcrypt work.
    t.hasher.compared.length = 0;
    t.clock.advance(20_000);
    const waiting = await loginFrom(t.app, A, email);
    expect(waiting.status).toBe(429);
    expect(waiting.headers['retry-after']).toBe('40');
    expect(waiting.body.error.details.reason).toBe('login_throttled');
    expect(t.hasher.compared).toEqual([]);

    // A is throttled for this account only: another account from A, and B for this one, work.
    expect((await loginFrom(t.app, A, 'neighbour@example.test')).status).toBe(200);
    expect((await loginFrom(t.app, B, email)).status).toBe(200);

    // Each further failure once the delay has passed doubles it, up to the maximum.
    const delays: string[] = [];
    let wait = 40_000;
    for (let i = 0; i < 4; i += 1) {
      t.clock.advance(wait + 1000);
      const res = await loginFrom(t.app, A, email, `Bad-again-${i}`);
      expect(res.status).toBe(429);
      delays.push(res.headers['retry-after'] as string);
      wait = Number(res.headers['retry-after']) * 1000;
    }
    expect(delays).toEqual(['120', '240', '240', '240']);
  });

  it('lets the address try again once its delay has passed, and forgets it after a success', async () => {
    await newUser(t.app, 'patient@example.test');
    const email = 'patient@example.test';
    expect(await statusesFrom(A, email, 3)).toEqual([401, 401, 429]);
    t.clock.advance(30_000);
    expect((await loginFrom(t.app, A, email)).status).toBe(429);
    t.clock.advance(31_000);
    expect((await loginFrom(t.app, A, email)).status).toBe(200);
    // The success cleared A's count for this account: the next typo is an ordinary 401.
    expect((await loginFrom(t.app, A, email, 'Typo-pass-1')).status).toBe(401);
    expect((await loginFrom(t.app, A, email)).status).toBe(200);
  });

  it('forgets failures once the window has passed without another', async () => {
    await newUser(t.app, 'forgotten@example.test');
    const email = 'forgotten@example.test';
    expect(await statusesFrom(A, email, 2)).toEqual([401, 401]);
    t.clock.advance(601_000);
    expect(await statusesFrom(A, email, 3)).toEqual([401, 401, 429]);
  });

  it('throttles unknown emails exactly like real ones (no enumeration through throttling)', async () => {
    await newUser(t.app, 'real@example.test');
    const real = [];
    const phantom = [];
    for (let i = 0; i < 4; i += 1) {
      real.push(await loginFrom(t.app, A, 'real@example.test', `Guess-word-${i}`));
      phantom.push(await loginFrom(t.app, A, 'phantom@example.test', `Guess-word-${i}`));
    }
    const shape = (res: request.Response) => [
      res.status,
      res.headers['retry-after'],
      res.body.error.code,
      res.body.error.details,
    ];
    expect(real.map(shape)).toEqual(phantom.map(shape));
    expect(real.map((res) => res.status)).toEqual([401, 401, 429, 429]);
  });

  it('counts one /64 as one IPv6 address, and an IPv4-mapped address as IPv4', async () => {
    await newUser(t.app, 'six@example.test');
    const email = 'six@example.test';
    await loginFrom(t.app, '2001:db8:1:2::a', email, 'Bad-guess-1');
    await loginFrom(t.app, '2001:db8:1:2:ffff::b', email, 'Bad-guess-2');
    expect((await loginFrom(t.app, '2001:db8:1:2::c', email, 'Bad-guess-3')).status).toBe(429);
    expect((await loginFrom(t.app, '2001:db8:1:3::a', email)).status).toBe(200);

    await loginFrom(t.app, '203.0.113.99', email, 'Bad-guess-4');
    await loginFrom(t.app, '::ffff:203.0.113.99', email, 'Bad-guess-5');
    expect((await loginFrom(t.app, '203.0.113.99', email, 'Bad-guess-6')).status).toBe(429);
  });
});

describe('per account: a distributed attack is slowed, the owner never locked', () => {
  it('delays every address from its first failure once the account has many, but never a fresh address with the right password', async () => {
    const email = 'distributed@example.test';
    await newUser(t.app, email);
    // 10 addresses, one guess each: ordinary 401s, but the account now counts 10 failures.
    for (let i = 0; i < 10; i += 1)
      expect((await loginFrom(t.app, freshAddress(), email, `Bot-guess-${i}`)).status).toBe(401);
    // From now on an address waits after its first failure.
    const bot = freshAddress();
    const first = await loginFrom(t.app, bot, email, 'Bot-guess-x');
    expect(first.status).toBe(429);
    expect(first.body.error.details).toEqual({ reason: 'login_throttled', retryAfterSeconds: 60 });
    expect((await loginFrom(t.app, bot, email, 'Bot-guess-y')).status).toBe(429);

    // The owner from an address of their own signs in at once.
    expect((await loginFrom(t.app, freshAddress(), email)).status).toBe(200);
    // The admin too, under the same kind of attack.
    for (let i = 0; i < 12; i += 1)
      await loginFrom(t.app, freshAddress(), ADMIN.email, `Bot-guess-${i}`);
    expect((await loginFrom(t.app, freshAddress(), ADMIN.email, ADMIN.password)).status).toBe(200);
  });

  it('keeps slowing a sustained attack from many addresses for an hour while the owner signs in whenever they like', async () => {
    const email = 'sustained@example.test';
    await newUser(t.app, email);
    const bots = Array.from({ length: 10 }, () => freshAddress());
    const readyAt = new Map(bots.map((bot) => [bot, 0]));
    const bcryptBefore = t.hasher.compared.length;
    let ownerLogins = 0;
    for (let elapsed = 0; elapsed < 60 * MINUTE; elapsed += 30_000) {
      // Every bot guesses as soon as it may (it honours Retry-After; refused tries cost nothing).
      for (const bot of bots) {
        if (readyAt.get(bot)! > elapsed) continue;
        const res = await loginFrom(t.app, bot, email, `Bot-guess-${elapsed}`);
        expect([401, 429]).toContain(res.status);
        if (res.status === 429)
          readyAt.set(bot, elapsed + Number(res.headers['retry-after']) * 1000);
      }
      // The owner, from a new place each time, is never turned away.
      if (elapsed % (10 * MINUTE) === 0) {
        expect((await loginFrom(t.app, freshAddress(), email)).status).toBe(200);
        ownerLogins += 1;
      }
      t.clock.advance(30_000);
    }
    // Slowed: the bots' guesses that were evaluated at all (bcrypt ran) in that hour. The
    // gateway alone lets an address make 20 per 5 minutes, 240 an hour; the delays (60, 120,
    // then 240 s each) leave each bot about 16.
    const guesses = t.hasher.compared.length - bcryptBefore - ownerLogins;
    expect(guesses).toBeGreaterThan(10);
    expect(guesses).toBeLessThanOrEqual(10 * 18);
    // The admin is not locked by any of it either.
    expect((await loginFrom(t.app, freshAddress(), ADMIN.email, ADMIN.password)).status).toBe(200);
  }, 60_000);
});

describe('under concurrency and across instances', () => {
  it('evaluates no more than the allowed guesses of one address, however many arrive at once', async () => {
    const email = 'burst@example.test';
    await newUser(t.app, email);
    t.hasher.compared.length = 0;
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, i) => loginFrom(t.app, A, email, `Burst-guess-${i}`)),
    );
    const statuses = burst.map((res) => res.status).sort();
    expect(statuses).toEqual([401, 401, ...Array(10).fill(429)]);
    // bcrypt ran for 3 of them: 2 free failures and the one that started the delay.
    expect(t.hasher.compared).toHaveLength(3);
    expect((await loginFrom(t.app, B, email)).status).toBe(200);
  });

  it('is stored in MongoDB, so another instance delays the same address', async () => {
    const email = 'shared-throttle@example.test';
    await newUser(t.app, email);
    const other = await t.secondInstance();
    await loginFrom(t.app, A, email, 'Bad-guess-1');
    await loginFrom(other.app, A, email, 'Bad-guess-2');
    expect((await loginFrom(t.app, A, email, 'Bad-guess-3')).status).toBe(429);
    const res = await loginFrom(other.app, A, email);
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect((await loginFrom(other.app, B, email)).status).toBe(200);
  });
});

describe('PUT /api/auth/password', () => {
  const change = (token: string, currentPassword: string) =>
    request(t.app)
      .put('/api/auth/password')
      .set(authHeader(token))
      .set('X-Forwarded-For', A)
      .send({ currentPassword, newPassword: 'Brand-new-pass-2' });

  it('throttles wrong current passwords per account without keeping anyone from signing in', async () => {
    const email = 'changer-throttled@example.test';
    const { accessToken } = await newUser(t.app, email);
    expect((await change(accessToken, 'Not-it-123')).status).toBe(403);
    expect((await change(accessToken, 'Not-it-456')).status).toBe(403);
    const third = await change(accessToken, 'Not-it-789');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('60');
    expect(third.body.error.details).toEqual({
      reason: 'password_change_throttled',
      retryAfterSeconds: 60,
    });
    // Waiting: even the right current password is refused, unevaluated.
    expect((await change(accessToken, PASSWORD)).status).toBe(429);
    // Signing in is not affected, from any address, the caller's own included.
    expect((await loginFrom(t.app, A, email)).status).toBe(200);
    expect((await loginFrom(t.app, B, email)).status).toBe(200);

    t.clock.advance(61_000);
    expect((await change(accessToken, PASSWORD)).status).toBe(200);
  });
});

describe('the client address', () => {
  /** A request as Express hands it over, from `peer`, with `trust proxy` trusting loopback. */
  function fakeRequest(peer: string, forwardedFor?: string): Request {
    const trustLoopback = (address: string) => address === '127.0.0.1';
    return {
      socket: { remoteAddress: peer },
      get: (name: string) => (name.toLowerCase() === 'x-forwarded-for' ? forwardedFor : undefined),
      app: { get: (setting: string) => (setting === 'trust proxy fn' ? trustLoopback : undefined) },
      // What Express computes from the same setting.
      ip: forwardedFor && trustLoopback(peer) ? forwardedFor : peer,
    } as unknown as Request;
  }

  it("is the forwarded address from a trusted proxy, else the peer's, and says so once", () => {
    const warned: string[] = [];
    const warn = (proxy: string) => warned.push(proxy);
    expect(clientAddress(fakeRequest('127.0.0.1', '203.0.113.5'), warn)).toBe('203.0.113.5');
    expect(clientAddress(fakeRequest('203.0.113.6'), warn)).toBe('203.0.113.6');
    expect(warned).toEqual([]);
    // A gateway on another host: its X-Forwarded-For is not believed (it could be forged),
    // so every client behind it counts as the gateway; the operator is told.
    expect(clientAddress(fakeRequest('172.18.0.5', '203.0.113.7'), warn)).toBe('172.18.0.5');
    expect(warned).toEqual(['172.18.0.5']);
  });
});
