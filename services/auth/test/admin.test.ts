import request from 'supertest';
import { trusted } from 'mongoose';
import { authService } from '../src';
import {
  ADMIN,
  adminToken,
  authHeader,
  logger,
  login,
  newUser,
  startTestAuth,
  type TestAuth,
} from './support';

let t: TestAuth;
let admin: string;
beforeAll(async () => {
  t = await startTestAuth('auth_admin');
  admin = await adminToken(t.app);
});
afterAll(async () => t.close());

interface Tokens {
  user: { id: string; role: string };
  accessToken: string;
  refreshToken: string;
}
const refresh = (refreshToken: string) =>
  request(t.app).post('/api/auth/refresh').send({ refreshToken });

/**
 * A refresh that raced a role change or a deletion: refused (401), or, if it won, nothing it
 * handed out works any more.
 */
async function expectNothingAlive(refreshed: request.Response): Promise<void> {
  expect([200, 401]).toContain(refreshed.status);
  if (refreshed.status !== 200) return;
  expect((await refresh(refreshed.body.refreshToken)).status).toBe(401);
  const verify = await request(t.app)
    .get('/api/auth/verify')
    .set(authHeader(refreshed.body.accessToken));
  expect(verify.status).toBe(401);
}

describe('admin seeding from ADMIN_EMAIL / ADMIN_PASSWORD', () => {
  it('created the admin at start and published user.created', async () => {
    const res = await login(t.app, ADMIN.email, ADMIN.password);
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ email: ADMIN.email, name: ADMIN.name, role: 'admin' });
    await t.bus.idle();
    expect(t.events[0]).toMatchObject({
      eventType: 'user.created',
      source: 'auth-service',
      data: { userId: res.body.user.id, email: ADMIN.email, name: ADMIN.name, role: 'admin' },
    });
  });

  it('does nothing when the admin exists, and never overwrites a changed password', async () => {
    const token = await adminToken(t.app);
    const changed = await request(t.app)
      .put('/api/auth/password')
      .set(authHeader(token))
      .send({ currentPassword: ADMIN.password, newPassword: 'Rotated-admin-2' });
    expect(changed.status).toBe(200);
    // Another start with the same ADMIN_EMAIL / ADMIN_PASSWORD seeds again.
    const again = await authService.start({ config: t.config, bus: t.bus, logger });
    try {
      expect(await t.auth.stores.users.model.countDocuments({ email: ADMIN.email })).toBe(1);
      expect((await login(t.app, ADMIN.email, 'Rotated-admin-2')).status).toBe(200);
      expect((await login(t.app, ADMIN.email, ADMIN.password)).status).toBe(401);
    } finally {
      await again.stop();
      await request(t.app)
        .put('/api/auth/password')
        .set(authHeader(changed.body.accessToken))
        .send({ currentPassword: 'Rotated-admin-2', newPassword: ADMIN.password });
      admin = await adminToken(t.app);
    }
  });

  it('refuses to start with an ADMIN_PASSWORD that breaks the policy', async () => {
    await expect(
      authService.start({
        config: { ...t.config, ADMIN_EMAIL: 'other-admin@shop.test', ADMIN_PASSWORD: 'password' },
        bus: t.bus,
        logger,
      }),
    ).rejects.toThrow('ADMIN_PASSWORD does not meet the password policy');
    expect(await t.auth.stores.users.model.countDocuments({ email: 'other-admin@shop.test' })).toBe(
      0,
    );
  });
});

describe('role checks', () => {
  it('answers 401 without a token and 403 for customers and sellers on admin endpoints', async () => {
    const customer = await newUser(t.app, 'plain@example.test');
    const seller = await newUser(t.app, 'seller-role@example.test');
    await request(t.app)
      .put(`/api/users/${seller.user.id}/role`)
      .set(authHeader(admin))
      .send({ role: 'seller' })
      .expect(200);
    const sellerToken = (await login(t.app, 'seller-role@example.test')).body.accessToken as string;
    const calls = [
      () => request(t.app).get('/api/users'),
      () => request(t.app).get(`/api/users/${customer.user.id}`),
      () => request(t.app).put(`/api/users/${customer.user.id}/role`).send({ role: 'admin' }),
      () => request(t.app).delete(`/api/users/${customer.user.id}`),
    ];
    for (const call of calls) {
      expect((await call()).status).toBe(401);
      for (const token of [customer.accessToken, sellerToken]) {
        const res = await call().set(authHeader(token));
        expect(res.status).toBe(403);
        expect(res.body.error).toMatchObject({
          code: 'FORBIDDEN',
          message: 'Requires role: admin',
        });
      }
    }
    const doc = await t.auth.stores.users.model.findById(customer.user.id).lean();
    expect(doc!.role).toBe('customer');
  });
});

describe('GET /api/users', () => {
  beforeAll(async () => {
    for (let i = 0; i < 5; i += 1) await newUser(t.app, `page${i}@example.test`);
  });

  it('lists users page by page, oldest first, without secrets', async () => {
    const total = await t.auth.stores.users.model.countDocuments();
    const first = await request(t.app).get('/api/users?page=1&limit=2').set(authHeader(admin));
    expect(first.status).toBe(200);
    // The one list envelope, nothing else in it.
    expect(first.body).toEqual({
      items: expect.any(Array),
      page: 1,
      limit: 2,
      total,
      totalPages: Math.ceil(total / 2),
    });
    expect(first.body.items).toHaveLength(2);
    expect(first.body.items[0].email).toBe(ADMIN.email);
    const second = await request(t.app).get('/api/users?page=2&limit=2').set(authHeader(admin));
    expect(second.body.items).toHaveLength(2);
    const ids = [...first.body.items, ...second.body.items].map((u: { id: string }) => u.id);
    expect(new Set(ids).size).toBe(4);
    expect(JSON.stringify([first.body, second.body])).not.toMatch(/passwordHash|\$2b\$/);
    const beyond = await request(t.app).get('/api/users?page=999&limit=2').set(authHeader(admin));
    expect(beyond.body.items).toEqual([]);
    const defaults = await request(t.app).get('/api/users').set(authHeader(admin));
    expect(defaults.body).toMatchObject({ page: 1, limit: 20 });
  });

  it('filters by role', async () => {
    const res = await request(t.app).get('/api/users?role=admin').set(authHeader(admin));
    expect(res.body.total).toBe(1);
    expect(res.body.items.map((u: { email: string }) => u.email)).toEqual([ADMIN.email]);
  });

  it.each([
    'page=0',
    'limit=0',
    'limit=101',
    'page=abc',
    'role=superuser',
    'email[$ne]=x',
    'sort=email',
  ])('refuses ?%s with 400', async (query) => {
    const res = await request(t.app).get(`/api/users?${query}`).set(authHeader(admin));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('GET /api/users/:id', () => {
  it('answers one user, 404 for an unknown id, 400 for a malformed one', async () => {
    const { user } = await newUser(t.app, 'one@example.test');
    const res = await request(t.app).get(`/api/users/${user.id}`).set(authHeader(admin));
    expect(res.status).toBe(200);
    expect(res.body).toEqual(user); // the user itself, not wrapped
    const unknown = await request(t.app)
      .get('/api/users/0123456789abcdef01234567')
      .set(authHeader(admin));
    expect(unknown.status).toBe(404);
    const malformed = await request(t.app).get('/api/users/not-an-id').set(authHeader(admin));
    expect(malformed.status).toBe(400);
  });
});

describe('PUT /api/users/:id/role', () => {
  it('changes the role, publishes user.updated, and the next login carries it', async () => {
    const { user } = await newUser(t.app, 'promote@example.test');
    const res = await request(t.app)
      .put(`/api/users/${user.id}/role`)
      .set(authHeader(admin))
      .send({ role: 'seller' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: user.id, email: 'promote@example.test', role: 'seller' });
    await t.bus.idle();
    const event = t.events.find(
      (e) => e.eventType === 'user.updated' && (e.data as { userId: string }).userId === user.id,
    );
    expect(event?.data).toEqual({
      userId: user.id,
      email: 'promote@example.test',
      name: 'Test User',
      role: 'seller',
    });
    const again = await login(t.app, 'promote@example.test');
    expect(again.body.user.role).toBe('seller');
    const verified = await request(t.app)
      .get('/api/auth/verify')
      .set(authHeader(again.body.accessToken));
    expect(verified.body.claims.role).toBe('seller');
    expect((await refresh(again.body.refreshToken)).status).toBe(200);
  });

  it('ends every session of the user, refresh tokens included, as a password change does', async () => {
    const first = await newUser(t.app, 'demoted-sessions@example.test');
    // A session whose last token is older than the access tokens' lifetime, and two recent ones.
    const idle = (await login(t.app, 'demoted-sessions@example.test')).body as Tokens;
    t.clock.advance(3600_000);
    try {
      const second = (await login(t.app, 'demoted-sessions@example.test')).body as Tokens;
      const rotated = (await refresh(first.refreshToken)).body as Tokens;
      const res = await request(t.app)
        .put(`/api/users/${first.user.id}/role`)
        .set(authHeader(admin))
        .send({ role: 'seller' });
      expect(res.status).toBe(200);
      // No refresh token of any device renews a session of the old role...
      for (const { refreshToken: token } of [idle, second, rotated]) {
        const refused = await refresh(token);
        expect(refused.status).toBe(401);
        expect(refused.body.error).toMatchObject({
          code: 'UNAUTHORIZED',
          details: { reason: 'revoked' },
          requestId: expect.any(String),
        });
      }
      const docs = await t.auth.stores.refreshTokens.model.find({ userId: first.user.id }).lean();
      expect(docs.map((doc) => doc.revokedReason)).toEqual(docs.map(() => 'role_change'));
      // ...and no access token of the recent ones is accepted (the idle one's has expired).
      for (const { accessToken: token } of [second, rotated]) {
        const verify = await request(t.app).get('/api/auth/verify').set(authHeader(token));
        expect(verify.status).toBe(401);
      }
      // A new login works at once, with the new role.
      const fresh = (await login(t.app, 'demoted-sessions@example.test')).body as Tokens;
      expect(fresh.user.role).toBe('seller');
      expect(
        (await request(t.app).get('/api/auth/verify').set(authHeader(fresh.accessToken))).status,
      ).toBe(200);
      expect((await refresh(fresh.refreshToken)).status).toBe(200);
    } finally {
      t.clock.advance(-3600_000);
    }
  });

  it('leaves no token of the old role alive when a refresh races the role change', async () => {
    const users = await Promise.all(
      Array.from({ length: 10 }, (_, i) => newUser(t.app, `role-race-${i}@example.test`)),
    );
    const outcomes = await Promise.all(
      users.map(async ({ user, refreshToken }) => {
        const [changed, refreshed] = await Promise.all([
          request(t.app)
            .put(`/api/users/${user.id}/role`)
            .set(authHeader(admin))
            .send({ role: 'seller' }),
          refresh(refreshToken),
        ]);
        return { changed, refreshed };
      }),
    );
    for (const { changed, refreshed } of outcomes) {
      expect(changed.status).toBe(200);
      // Won the race or not, what it handed out ended with the role change.
      await expectNothingAlive(refreshed);
    }
    for (const { user } of users) {
      const live = await t.auth.stores.refreshTokens.model.countDocuments({
        userId: user.id,
        revokedAt: null,
      });
      expect(live).toBe(0);
    }
  });

  it('publishes nothing when the role is unchanged', async () => {
    const { user } = await newUser(t.app, 'same-role@example.test');
    await t.bus.idle();
    const before = t.events.length;
    const res = await request(t.app)
      .put(`/api/users/${user.id}/role`)
      .set(authHeader(admin))
      .send({ role: 'customer' });
    expect(res.status).toBe(200);
    await t.bus.idle();
    expect(t.events.length).toBe(before);
  });

  it('refuses an unknown role, an extra field, an unknown user and the admin itself', async () => {
    const { user } = await newUser(t.app, 'role-errors@example.test');
    const path = `/api/users/${user.id}/role`;
    expect(
      (await request(t.app).put(path).set(authHeader(admin)).send({ role: 'root' })).status,
    ).toBe(400);
    expect(
      (
        await request(t.app)
          .put(path)
          .set(authHeader(admin))
          .send({ role: { $ne: 'x' } })
      ).status,
    ).toBe(400);
    expect(
      (await request(t.app).put(path).set(authHeader(admin)).send({ role: 'admin', name: 'x' }))
        .status,
    ).toBe(400);
    const unknown = await request(t.app)
      .put('/api/users/0123456789abcdef01234567/role')
      .set(authHeader(admin))
      .send({ role: 'seller' });
    expect(unknown.status).toBe(404);
    const adminId = (await login(t.app, ADMIN.email, ADMIN.password)).body.user.id as string;
    const self = await request(t.app)
      .put(`/api/users/${adminId}/role`)
      .set(authHeader(admin))
      .send({ role: 'customer' });
    expect(self.status).toBe(422);
    expect(self.body.error.code).toBe('SELF_ROLE_CHANGE');
    expect((await t.auth.stores.users.model.findById(user.id).lean())!.role).toBe('customer');
    expect((await t.auth.stores.users.model.findById(adminId).lean())!.role).toBe('admin');
  });
});

describe('DELETE /api/users/:id', () => {
  it('deletes the user and its refresh tokens and publishes user.deleted', async () => {
    const { user, refreshToken, accessToken } = await newUser(t.app, 'doomed@example.test');
    const res = await request(t.app).delete(`/api/users/${user.id}`).set(authHeader(admin));
    expect(res.status).toBe(204);
    expect(await t.auth.stores.users.model.countDocuments({ _id: user.id })).toBe(0);
    expect(await t.auth.stores.refreshTokens.model.countDocuments({ userId: user.id })).toBe(0);
    await t.bus.idle();
    const event = t.events.find((e) => e.eventType === 'user.deleted');
    expect(event).toMatchObject({
      eventType: 'user.deleted',
      source: 'auth-service',
      version: '1.0',
      data: { userId: user.id },
      metadata: { correlationId: res.headers['x-correlation-id'] },
    });
    expect((await request(t.app).post('/api/auth/refresh').send({ refreshToken })).status).toBe(
      401,
    );
    // Its access token is refused at once, not when it expires.
    const profile = await request(t.app).get('/api/auth/profile').set(authHeader(accessToken));
    expect(profile.status).toBe(401);
    expect(profile.body.error.details).toMatchObject({ reason: 'revoked' });
    expect((await login(t.app, 'doomed@example.test')).status).toBe(401);
    // The address is free again.
    expect((await newUser(t.app, 'doomed@example.test')).user.id).not.toBe(user.id);
  });

  it('leaves no token alive when a refresh races the deletion', async () => {
    const users = await Promise.all(
      Array.from({ length: 10 }, (_, i) => newUser(t.app, `delete-race-${i}@example.test`)),
    );
    const outcomes = await Promise.all(
      users.map(async ({ user, refreshToken }) => {
        const [deleted, refreshed] = await Promise.all([
          request(t.app).delete(`/api/users/${user.id}`).set(authHeader(admin)),
          refresh(refreshToken),
        ]);
        return { deleted, refreshed };
      }),
    );
    for (const { deleted, refreshed } of outcomes) {
      expect(deleted.status).toBe(204);
      await expectNothingAlive(refreshed);
    }
    const ids = users.map(({ user }) => user.id);
    expect(
      await t.auth.stores.refreshTokens.model.countDocuments({ userId: trusted({ $in: ids }) }),
    ).toBe(0);
  });

  it('answers 404 for an unknown user, 400 for a bad id, 422 for the admin itself', async () => {
    const unknown = await request(t.app)
      .delete('/api/users/0123456789abcdef01234567')
      .set(authHeader(admin));
    expect(unknown.status).toBe(404);
    expect((await request(t.app).delete('/api/users/xyz').set(authHeader(admin))).status).toBe(400);
    const adminId = (await login(t.app, ADMIN.email, ADMIN.password)).body.user.id as string;
    const self = await request(t.app).delete(`/api/users/${adminId}`).set(authHeader(admin));
    expect(self.status).toBe(422);
    expect(self.body.error.code).toBe('SELF_DELETE');
    expect(await t.auth.stores.users.model.countDocuments({ _id: adminId })).toBe(1);
  });
});
