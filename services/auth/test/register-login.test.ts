import bcrypt from 'bcrypt';
import request from 'supertest';
import { jwtVerifyOptionsFromConfig, verifyAccessToken } from '@ecom/common/auth';
import { eventually } from '@ecom/test-support';
import {
  adminToken,
  authHeader,
  login,
  newUser,
  PASSWORD,
  register,
  startTestAuth,
  type TestAuth,
} from './support';

let t: TestAuth;
beforeAll(async () => {
  t = await startTestAuth('auth_register_login');
});
afterAll(async () => t.close());

const userCount = () => t.auth.stores.users.model.countDocuments();

describe('POST /api/auth/register', () => {
  it('creates a customer with a normalised email and answers the user and a token pair', async () => {
    const res = await register(t.app, { email: '  New.User@Example.TEST ', name: ' Ann ' });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/api/users/${res.body.user.id}`);
    const located = await request(t.app)
      .get(res.headers.location)
      .set(authHeader(await adminToken(t.app)));
    expect(located.body).toEqual(res.body.user);
    expect(res.body.user).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{24}$/),
      email: 'new.user@example.test',
      name: 'Ann',
      role: 'customer',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900 });
    expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|\$2b\$/);

    // The access token is ES256, verifiable with the public key alone, and carries the user.
    const claims = verifyAccessToken(res.body.accessToken, jwtVerifyOptionsFromConfig(t.config));
    expect(claims).toMatchObject({
      sub: res.body.user.id,
      role: 'customer',
      email: 'new.user@example.test',
      iss: 'ecom-auth',
      aud: 'ecom-api',
    });
    expect(claims.exp - claims.iat).toBe(900);
    const header = JSON.parse(
      Buffer.from(res.body.accessToken.split('.')[0], 'base64url').toString(),
    );
    expect(header.alg).toBe('ES256');

    // The refresh token is opaque and lives 7 days.
    expect(res.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const refreshMs = Date.parse(res.body.refreshTokenExpiresAt) - Date.now();
    expect(refreshMs).toBeGreaterThan(7 * 86400_000 - 60_000);
    expect(refreshMs).toBeLessThanOrEqual(7 * 86400_000);
  });

  it('stores a bcrypt hash at the configured cost, never the password', async () => {
    const { user } = await newUser(t.app, 'hash@example.test');
    const doc = await t.auth.stores.users.model.findById(user.id).lean();
    expect(doc?.passwordHash).toMatch(/^bcrypt-sha256\$\$2b\$04\$/);
    expect(JSON.stringify(doc)).not.toContain(PASSWORD);
  });

  it('publishes user.created in the common envelope after the write', async () => {
    const res = await register(t.app, { email: 'evented@example.test', name: 'Eve' });
    await t.bus.idle();
    const event = t.events.find(
      (e) =>
        e.eventType === 'user.created' &&
        e.data &&
        (e.data as { email: string }).email === 'evented@example.test',
    );
    expect(event).toEqual({
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      eventType: 'user.created',
      timestamp: expect.any(String),
      version: '1.0',
      source: 'auth-service',
      data: {
        userId: res.body.user.id,
        email: 'evented@example.test',
        name: 'Eve',
        role: 'customer',
      },
      metadata: { correlationId: res.headers['x-correlation-id'] },
    });
    expect(Number.isNaN(Date.parse(event!.timestamp))).toBe(false);
    // The outbox row is marked sent (within the mark window): the relay will not send it again.
    await eventually(
      async () => (await t.auth.outbox.model.findById(event!.eventId).lean())?.sentAt,
    );
  });

  it('answers 409 for an email already registered, in any spelling, writing nothing', async () => {
    await newUser(t.app, 'dup@example.test');
    const before = await userCount();
    const res = await register(t.app, { email: 'DUP@example.test ' });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'CONFLICT',
      message: 'Email is already registered',
    });
    expect(res.body.error.requestId).toEqual(expect.any(String));
    expect(await userCount()).toBe(before);
  });

  it.each([
    ['too short', 'Ab1!', 'at least 8 characters'],
    ['a breached password', 'password123', 'too common'],
    ['over 256 characters', 'Aa1'.repeat(90), 'at most 256 characters'],
  ])('refuses a password that is %s with a clear 400', async (_case, password, text) => {
    const before = await userCount();
    const res = await register(t.app, { email: `weak${before}@example.test`, password });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
    expect(res.body.error.message).toContain(text);
    expect(res.body.error.details).toEqual([
      { location: 'body', field: 'password', message: expect.stringContaining(text) },
    ]);
    expect(await userCount()).toBe(before);
  });

  it('makes one account of every Unicode spelling of an address (NFKC)', async () => {
    const composed = await register(t.app, { email: 'caf\u00e9@example.test' });
    expect(composed.status).toBe(201);
    expect(composed.body.user.email).toBe('caf\u00e9@example.test');
    const before = await userCount();
    for (const spelling of [
      'cafe\u0301@example.test', // decomposed (NFD)
      'CAFE\u0301@EXAMPLE.TEST',
      '\uff43\uff41\uff46\u00e9\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff54\uff45\uff53\uff54', // fullwidth
    ]) {
      const res = await register(t.app, { email: spelling });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
    }
    // Fullwidth letters of a new address become the plain address.
    const fullwidth = await register(t.app, {
      email:
        '\uff4b\uff41\uff54\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff54\uff45\uff53\uff54',
    });
    expect(fullwidth.status).toBe(201);
    expect(fullwidth.body.user.email).toBe('kate@example.test');
    expect(await userCount()).toBe(before + 1);
  });

  it.each([
    ['a zero-width space', 'kate\u200b@example.test'],
    ['a zero-width joiner', 'ka\u200dte@example.test'],
    ['a right-to-left override', 'kate\u202etset.elpmaxe@example.test'],
    ['a soft hyphen', 'ka\u00adte@example.test'],
    ['a byte order mark inside', 'kate@exa\ufeffmple.test'],
    ['a control character', 'kate\u0007@example.test'],
    ['a space inside', 'kate smith@example.test'],
    ['a no-break space inside', 'kate\u00a0smith@example.test'],
  ])('refuses an address with %s (400), writing nothing', async (_case, email) => {
    const before = await userCount();
    const res = await register(t.app, { email });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'VALIDATION_ERROR',
      requestId: expect.any(String),
    });
    expect(res.body.error.details).toContainEqual({
      location: 'body',
      field: 'email',
      message: '"email" must not contain spaces, invisible or control characters',
    });
    expect(await userCount()).toBe(before);
    // Login is refused the same way, before any lookup or throttling count.
    const signIn = await login(t.app, email);
    expect(signIn.status).toBe(400);
    expect(signIn.body.error.code).toBe('VALIDATION_ERROR');
  });

  it('refuses a missing name, a bad email and a role chosen by the caller', async () => {
    const before = await userCount();
    const missing = await request(t.app)
      .post('/api/auth/register')
      .send({ email: 'noname@example.test', password: PASSWORD });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([expect.objectContaining({ field: 'name' })]);
    const badEmail = await register(t.app, { email: 'not-an-email' });
    expect(badEmail.status).toBe(400);
    const withRole = await request(t.app)
      .post('/api/auth/register')
      .send({ email: 'sneaky@example.test', password: PASSWORD, name: 'S', role: 'admin' });
    expect(withRole.status).toBe(400);
    expect(withRole.body.error.details).toEqual([
      expect.objectContaining({ field: 'role', message: '"role" is not allowed' }),
    ]);
    expect(await userCount()).toBe(before);
  });
});

describe('POST /api/auth/login', () => {
  beforeAll(async () => {
    await newUser(t.app, 'login@example.test');
  });

  it('answers the user and a fresh token pair for the right password, any email spelling', async () => {
    const res = await login(t.app, ' LOGIN@example.test');
    expect(res.status).toBe(200);
    expect(res.body.user.email).toBe('login@example.test');
    expect(res.body.accessToken).toEqual(expect.any(String));
    expect(res.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|\$2b\$/);
  });

  it('signs in with any Unicode spelling of the address it was registered with', async () => {
    const { user } = await newUser(t.app, 'jos\u00e9@example.test');
    for (const spelling of [
      'jose\u0301@example.test',
      ' JOS\u00c9@Example.Test ',
      '\uff4a\uff4f\uff53\u00e9\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff54\uff45\uff53\uff54',
    ]) {
      const res = await login(t.app, spelling);
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: user.id, email: 'jos\u00e9@example.test' });
    }
  });

  it('answers the same 401 for an unknown email and a wrong password', async () => {
    const unknown = await login(t.app, 'nobody@example.test');
    const wrong = await login(t.app, 'login@example.test', 'Wrong-pass-1');
    for (const res of [unknown, wrong]) {
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        code: 'UNAUTHORIZED',
        message: 'Invalid email or password',
        details: { reason: 'invalid_credentials' },
      });
    }
    const strip = (body: { error: { requestId?: string } }) => ({
      ...body.error,
      requestId: undefined,
    });
    expect(strip(unknown.body)).toEqual(strip(wrong.body));
    await login(t.app, 'login@example.test'); // clears the failure just counted
  });

  it('runs bcrypt against a dummy hash of the same cost when the email is unknown', async () => {
    t.hasher.compared.length = 0;
    await login(t.app, 'ghost@example.test', 'Whatever-1');
    expect(t.hasher.compared).toEqual([t.hasher.dummyHash]);
    expect(t.hasher.dummyHash).toMatch(/^bcrypt-sha256\$\$2b\$04\$/); // same cost as real hashes

    t.hasher.compared.length = 0;
    await login(t.app, 'login@example.test', 'Wrong-pass-1');
    const doc = await t.auth.stores.users.model.findOne({ email: 'login@example.test' }).lean();
    expect(t.hasher.compared).toEqual([doc!.passwordHash]);
    expect(t.hasher.compared[0]).not.toBe(t.hasher.dummyHash);
    await login(t.app, 'login@example.test');
  });

  it('keeps every character of a long passphrase: bcrypt never sees only its first 72 bytes', async () => {
    const long = 'a long passphrase that goes on and on, '.repeat(3); // 117 bytes
    await newUser(t.app, 'long@example.test', long);
    expect((await login(t.app, 'long@example.test', long)).status).toBe(200);
    // Same first 72 bytes, different end: a raw bcrypt would have accepted it.
    expect((await login(t.app, 'long@example.test', `${long.slice(0, 72)}DIFFERENT`)).status).toBe(
      401,
    );
  });

  it('logs in with any Unicode spelling of the password (NFKC)', async () => {
    await newUser(t.app, 'unicode@example.test', 'Cafe\u0301 au lait, s\u2019il vous pla\u00eet');
    // The same text with a precomposed é: one password, two spellings.
    const res = await login(
      t.app,
      'unicode@example.test',
      'Caf\u00e9 au lait, s\u2019il vous pla\u00eet',
    );
    expect(res.status).toBe(200);
  });

  it('still logs in users whose hash is of the first scheme (raw bcrypt), and upgrades it', async () => {
    const { user } = await newUser(t.app, 'legacy@example.test');
    const legacy = await bcrypt.hash(PASSWORD, 4);
    await t.auth.stores.users.model.updateOne({ _id: user.id }, { passwordHash: legacy });
    expect((await login(t.app, 'legacy@example.test', 'Wrong-pass-1')).status).toBe(401);
    expect((await login(t.app, 'legacy@example.test')).status).toBe(200);
    const doc = await t.auth.stores.users.model.findById(user.id).lean();
    expect(doc!.passwordHash).toMatch(/^bcrypt-sha256\$\$2b\$04\$/);
    expect((await login(t.app, 'legacy@example.test')).status).toBe(200);
  });

  it('upgrades a hash made at a lower cost on the next successful login', async () => {
    const { user } = await newUser(t.app, 'oldcost@example.test'); // hashed at cost 4
    // Another instance configured with cost 5, on the same database.
    const other = await t.secondInstance({ BCRYPT_ROUNDS: 5 }, { hasher: undefined });
    try {
      expect((await login(other.app, 'oldcost@example.test')).status).toBe(200);
      const doc = await t.auth.stores.users.model.findById(user.id).lean();
      expect(doc!.passwordHash).toMatch(/^bcrypt-sha256\$\$2b\$05\$/);
      expect((await login(t.app, 'oldcost@example.test')).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});

describe('login throttling (one client address; see login-throttling.test.ts for several)', () => {
  // The test config delays an address after its 3rd failure for an account: 60 s, then 120 s,
  // 240 s at most; failures are forgotten 120 s after the last one (or its delay's end).
  it('delays the address on the 3rd failure with 429 and Retry-After, even for the right password', async () => {
    await newUser(t.app, 'victim@example.test');
    expect((await login(t.app, 'victim@example.test', 'Bad-guess-1')).status).toBe(401);
    expect((await login(t.app, 'victim@example.test', 'Bad-guess-2')).status).toBe(401);
    const third = await login(t.app, 'victim@example.test', 'Bad-guess-3');
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('60');
    expect(third.body.error).toMatchObject({
      code: 'RATE_LIMITED',
      details: { reason: 'login_throttled', retryAfterSeconds: 60 },
    });

    t.hasher.compared.length = 0;
    t.clock.advance(20_000);
    const waiting = await login(t.app, 'victim@example.test');
    expect(waiting.status).toBe(429);
    expect(waiting.headers['retry-after']).toBe('40');
    expect(t.hasher.compared).toEqual([]); // refused before any bcrypt work

    t.clock.advance(41_000);
    expect((await login(t.app, 'victim@example.test')).status).toBe(200);
    // The address starts over; the account keeps its count of failures (they age out).
    const scopes = await t.auth.stores.loginAttempts.model
      .find({ account: 'victim@example.test' })
      .lean();
    expect(scopes.map((doc) => doc.scope)).toEqual(['account']);
  });

  it('throttles unknown emails exactly like real ones (no enumeration through throttling)', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await login(t.app, 'phantom@example.test', 'X-guess-1')).status);
    expect(statuses).toEqual([401, 401, 429, 429]);
  });

  it('is stored in MongoDB, so another instance delays the address too', async () => {
    await newUser(t.app, 'shared@example.test');
    const other = await t.secondInstance();
    await login(t.app, 'shared@example.test', 'Bad-guess-1');
    await login(other.app, 'shared@example.test', 'Bad-guess-2');
    expect((await login(t.app, 'shared@example.test', 'Bad-guess-3')).status).toBe(429);
    const res = await login(other.app, 'shared@example.test');
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    const doc = await t.auth.stores.loginAttempts.model
      .findOne({ account: 'shared@example.test', scope: 'address' })
      .lean();
    expect(doc!.address).toBe('127.0.0.1');
    expect(doc!.delayedUntil!.getTime()).toBeGreaterThan(t.clock.now().getTime());
  });

  it('starts counting over after a successful login', async () => {
    await newUser(t.app, 'resets@example.test');
    await login(t.app, 'resets@example.test', 'Bad-guess-1');
    await login(t.app, 'resets@example.test', 'Bad-guess-2');
    expect((await login(t.app, 'resets@example.test')).status).toBe(200);
    expect((await login(t.app, 'resets@example.test', 'Bad-guess-3')).status).toBe(401);
    expect((await login(t.app, 'resets@example.test', 'Bad-guess-4')).status).toBe(401);
  });

  it('forgets failures older than the window', async () => {
    await newUser(t.app, 'slow@example.test');
    await login(t.app, 'slow@example.test', 'Bad-guess-1');
    await login(t.app, 'slow@example.test', 'Bad-guess-2');
    t.clock.advance(121_000);
    expect((await login(t.app, 'slow@example.test', 'Bad-guess-3')).status).toBe(401);
    expect((await login(t.app, 'slow@example.test', 'Bad-guess-4')).status).toBe(401);
    expect((await login(t.app, 'slow@example.test', 'Bad-guess-5')).status).toBe(429);
  });
});
