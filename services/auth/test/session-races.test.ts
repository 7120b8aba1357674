import request from 'supertest';
import {
  PASSWORD,
  adminToken,
  authHeader,
  login,
  newUser,
  startTestAuth,
  type TestAuth,
} from './support';

// A login that checked the password, and whose session was recorded only after a change that
// ends the user's sessions had revoked them, kept a working, renewable session (an outside
// test: 0-2 of 40 racing logins survived a password change, 25-36 of 40 an account deletion).
// Here the race is made certain: the login is held right after it read the user and checked the
// password, the change runs to its end, then the login goes on.

let t: TestAuth;
let admin: string;
beforeAll(async () => {
  t = await startTestAuth('auth_session_races');
  admin = await adminToken(t.app);
});
afterAll(async () => t.close());

/** Holds the next password check until released; `checked` resolves once it was asked. */
function holdNextPasswordCheck(): { checked: Promise<void>; release: () => void } {
  const original = t.hasher.compare;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const checked = new Promise<void>((resolve) => (entered = resolve));
  t.hasher.compare = async (password, hash) => {
    t.hasher.compare = original;
    const result = await original(password, hash);
    entered();
    await released;
    return result;
  };
  return { checked, release };
}

/** A login held between its password check and its session while `change` runs to its end. */
async function loginAcross(email: string, change: () => Promise<void>, password = PASSWORD) {
  const hold = holdNextPasswordCheck();
  const pending = login(t.app, email, password).then((res) => res);
  await hold.checked;
  await change();
  hold.release();
  return pending;
}

const verify = (accessToken: string) =>
  request(t.app).get('/api/auth/verify').set(authHeader(accessToken));
const refresh = (refreshToken: string) =>
  request(t.app).post('/api/auth/refresh').send({ refreshToken });

/** Refused as a session that ended while it was made: nothing handed out. */
function expectEnded(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.body.error).toMatchObject({
    code: 'UNAUTHORIZED',
    details: { reason: 'session_ended' },
  });
  expect(res.body.accessToken).toBeUndefined();
  expect(res.body.refreshToken).toBeUndefined();
}

describe('a login racing what ends every session of its user', () => {
  it('a password change: the login with the old password gets no session', async () => {
    const user = await newUser(t.app, 'race-password@example.test');
    const changed = await loginAcross(user.user.email, async () => {
      const res = await request(t.app)
        .put('/api/auth/password')
        .set(authHeader(user.accessToken))
        .send({ currentPassword: PASSWORD, newPassword: 'Brand-new-pass-7' });
      expect(res.status).toBe(200);
    });
    expectEnded(changed);
    // The new password signs in as usual.
    expect((await login(t.app, user.user.email, 'Brand-new-pass-7')).status).toBe(200);
  });

  it('logout everywhere: the login in flight gets no session', async () => {
    const user = await newUser(t.app, 'race-logout-all@example.test');
    const res = await loginAcross(user.user.email, async () => {
      const out = await request(t.app)
        .post('/api/auth/logout-all')
        .set(authHeader(user.accessToken));
      expect(out.status).toBeLessThan(300);
    });
    expectEnded(res);
    expect((await verify(user.accessToken)).status).toBe(401);
    expect((await login(t.app, user.user.email)).status).toBe(200);
  });

  it('a role change: no session of the old role survives', async () => {
    const user = await newUser(t.app, 'race-role@example.test');
    const res = await loginAcross(user.user.email, async () => {
      const changed = await request(t.app)
        .put(`/api/users/${user.user.id}/role`)
        .set(authHeader(admin))
        .send({ role: 'seller' });
      expect(changed.status).toBe(200);
    });
    expectEnded(res);
    const next = await login(t.app, user.user.email);
    expect(next.status).toBe(200);
    expect(next.body.user.role).toBe('seller');
  });

  it("an account's deletion: the login gets no session, and no token of the account works", async () => {
    const user = await newUser(t.app, 'race-delete@example.test');
    const res = await loginAcross(user.user.email, async () => {
      const deleted = await request(t.app)
        .delete(`/api/users/${user.user.id}`)
        .set(authHeader(admin));
      expect(deleted.status).toBe(204);
    });
    expectEnded(res);
    expect((await verify(user.accessToken)).status).toBe(401);
    expect((await refresh(user.refreshToken)).status).toBe(401);
  });

  it('nothing in between: the login keeps its session, and a later change ends it', async () => {
    const user = await newUser(t.app, 'race-none@example.test');
    const res = await loginAcross(user.user.email, async () => {});
    expect(res.status).toBe(200);
    expect((await verify(res.body.accessToken)).status).toBe(200);
    const out = await request(t.app)
      .post('/api/auth/logout-all')
      .set(authHeader(res.body.accessToken));
    expect(out.status).toBeLessThan(300);
    expect((await verify(res.body.accessToken)).status).toBe(401);
    expect((await refresh(res.body.refreshToken)).status).toBe(401);
  });
});
