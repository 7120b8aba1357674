import request from 'supertest';
import { authHeader, login, newUser, PASSWORD, startTestAuth, type TestAuth } from './support';

let t: TestAuth;
beforeAll(async () => {
  t = await startTestAuth('auth_profile');
});
afterAll(async () => t.close());

describe.each(['/api/auth/profile', '/api/users/profile'])('%s', (path) => {
  it('GET answers the caller without any secret', async () => {
    const { user, accessToken } = await newUser(t.app, `get${path.length}@example.test`);
    const res = await request(t.app).get(path).set(authHeader(accessToken));
    expect(res.status).toBe(200);
    expect(res.body).toEqual(user); // the user itself, not wrapped
    expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|\$2b\$/);
  });

  it('PUT updates name, phone and address, publishes user.updated, and null removes a field', async () => {
    const email = `put${path.length}@example.test`;
    const { user, accessToken } = await newUser(t.app, email);
    const address = {
      line1: '1 Main St',
      line2: 'Apt 4',
      city: 'Springfield',
      region: 'IL',
      postalCode: '12345',
      country: 'us',
    };
    const res = await request(t.app)
      .put(path)
      .set(authHeader(accessToken))
      .send({ name: '  New Name ', phone: '+1 555 0100', address });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: user.id,
      email,
      name: 'New Name',
      phone: '+1 555 0100',
      address: { ...address, country: 'US' },
    });
    expect((await request(t.app).get(path).set(authHeader(accessToken))).body.name).toBe(
      'New Name',
    );

    await t.bus.idle();
    const updated = t.events.filter(
      (e) => e.eventType === 'user.updated' && (e.data as { userId: string }).userId === user.id,
    );
    expect(updated).toHaveLength(1);
    expect(updated[0]).toMatchObject({
      source: 'auth-service',
      version: '1.0',
      data: { userId: user.id, email, name: 'New Name', role: 'customer' },
      metadata: { correlationId: res.headers['x-correlation-id'] },
    });

    const removed = await request(t.app)
      .put(path)
      .set(authHeader(accessToken))
      .send({ phone: null });
    expect(removed.status).toBe(200);
    expect(removed.body.phone).toBeUndefined();
    expect(removed.body.address.city).toBe('Springfield');
  });

  it('refuses anonymous callers and bad input, changing nothing', async () => {
    const { accessToken, user } = await newUser(t.app, `bad${path.length}@example.test`);
    expect((await request(t.app).get(path)).status).toBe(401);
    expect((await request(t.app).put(path).send({ name: 'x' })).status).toBe(401);
    const cases = [
      {},
      { email: 'other@example.test' },
      { role: 'admin' },
      { name: '' },
      { name: '\u2800\u200b' }, // nothing that shows
      { name: 'x'.repeat(101) },
      { phone: 'call me' },
      { address: { line1: 'a', city: 'b', country: 'USA' } },
      { address: { city: 'b', country: 'US' } },
      { name: { $set: 'x' } },
    ];
    for (const body of cases) {
      const res = await request(t.app).put(path).set(authHeader(accessToken)).send(body);
      expect([res.status, body]).toEqual([400, body]);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    const doc = await t.auth.stores.users.model.findById(user.id).lean();
    expect(doc).toMatchObject({ name: 'Test User', role: 'customer', email: user.email });
  });

  it('answers 404 when the account behind a valid token no longer exists', async () => {
    const { user, accessToken } = await newUser(t.app, `deleted${path.length}@example.test`);
    await t.auth.stores.users.model.deleteOne({ _id: user.id });
    const res = await request(t.app).get(path).set(authHeader(accessToken));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(
      (await request(t.app).put(path).set(authHeader(accessToken)).send({ name: 'x' })).status,
    ).toBe(404);
  });
});

describe('PUT /api/auth/password', () => {
  const NEW = 'Brand-new-pass-2';
  const change = (token: string, body: object) =>
    request(t.app).put('/api/auth/password').set(authHeader(token)).send(body);

  it('changes the password, revokes every refresh token and starts one new session', async () => {
    const first = await newUser(t.app, 'changer@example.test');
    const otherDevice = (await login(t.app, 'changer@example.test')).body.refreshToken as string;
    const res = await change(first.accessToken, { currentPassword: PASSWORD, newPassword: NEW });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(first.user.id);
    expect(res.body.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    for (const old of [first.refreshToken, otherDevice]) {
      const refreshed = await request(t.app).post('/api/auth/refresh').send({ refreshToken: old });
      expect(refreshed.status).toBe(401);
    }
    expect(
      (await request(t.app).post('/api/auth/refresh').send({ refreshToken: res.body.refreshToken }))
        .status,
    ).toBe(200);
    expect((await login(t.app, 'changer@example.test', PASSWORD)).status).toBe(401);
    expect((await login(t.app, 'changer@example.test', NEW)).status).toBe(200);
  });

  it('refuses a wrong current password with 403, and throttles repeated ones without locking the login', async () => {
    const { accessToken } = await newUser(t.app, 'guessed@example.test');
    const wrong = await change(accessToken, { currentPassword: 'Not-it-123', newPassword: NEW });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toMatchObject({
      code: 'FORBIDDEN',
      message: 'Current password is incorrect',
    });
    await change(accessToken, { currentPassword: 'Not-it-456', newPassword: NEW });
    const third = await change(accessToken, { currentPassword: 'Not-it-789', newPassword: NEW });
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('60');
    expect(third.body.error.details.reason).toBe('password_change_throttled');
    // Waiting: even the right current password waits now, but signing in does not.
    expect(
      (await change(accessToken, { currentPassword: PASSWORD, newPassword: NEW })).status,
    ).toBe(429);
    expect((await login(t.app, 'guessed@example.test')).status).toBe(200);
    t.clock.advance(61_000);
    expect(
      (await change(accessToken, { currentPassword: PASSWORD, newPassword: NEW })).status,
    ).toBe(200);
  });

  it('applies the password policy to the new password and wants a different one', async () => {
    const { accessToken, user } = await newUser(t.app, 'policy@example.test');
    const weak = await change(accessToken, { currentPassword: PASSWORD, newPassword: 'Sh0rt' });
    expect(weak.status).toBe(400);
    expect(weak.body.error.details).toEqual([
      expect.objectContaining({
        field: 'newPassword',
        message: expect.stringContaining('at least 8'),
      }),
    ]);
    const same = await change(accessToken, { currentPassword: PASSWORD, newPassword: PASSWORD });
    expect(same.status).toBe(400);
    expect(same.body.error.message).toBe('New password must differ from the current one');
    const missing = await change(accessToken, { newPassword: NEW });
    expect(missing.status).toBe(400);
    const hashBefore = (await t.auth.stores.users.model.findById(user.id).lean())!.passwordHash;
    expect((await login(t.app, 'policy@example.test')).status).toBe(200);
    expect((await t.auth.stores.users.model.findById(user.id).lean())!.passwordHash).toBe(
      hashBefore,
    );
  });

  it('needs an access token', async () => {
    const res = await request(t.app)
      .put('/api/auth/password')
      .send({ currentPassword: PASSWORD, newPassword: NEW });
    expect(res.status).toBe(401);
  });
});
