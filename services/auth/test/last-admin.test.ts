import request from 'supertest';
import type { AppError } from '@ecom/common/errors';
import {
  ADMIN,
  adminToken,
  authHeader,
  login,
  newUser,
  startTestAuth,
  type TestAuth,
} from './support';

// Its own database: these tests demote and delete the seeded admin.
let t: TestAuth;
beforeAll(async () => {
  t = await startTestAuth('auth_last_admin');
});
afterAll(async () => t.close());

interface Admin {
  id: string;
  email: string;
  token: string;
}

let serial = 0;

const admins = () => t.auth.stores.users.model.countDocuments({ role: 'admin' });

/** A new user made admin by `by`, signed in after the promotion. */
async function promoted(by: Admin): Promise<Admin> {
  serial += 1;
  const email = `admin-${serial}@example.test`;
  const { user } = await newUser(t.app, email);
  await request(t.app)
    .put(`/api/users/${user.id}/role`)
    .set(authHeader(by.token))
    .send({ role: 'admin' })
    .expect(200);
  return { id: user.id, email, token: (await login(t.app, email)).body.accessToken as string };
}

async function seededAdmin(): Promise<Admin> {
  const res = await login(t.app, ADMIN.email, ADMIN.password);
  return { id: res.body.user.id as string, email: ADMIN.email, token: await adminToken(t.app) };
}

/** What an admin does to another account over HTTP. */
const actions = {
  demote: (actor: Admin, target: Admin) =>
    request(t.app)
      .put(`/api/users/${target.id}/role`)
      .set(authHeader(actor.token))
      .send({ role: 'customer' }),
  delete: (actor: Admin, target: Admin) =>
    request(t.app).delete(`/api/users/${target.id}`).set(authHeader(actor.token)),
};

describe('the platform keeps at least one admin', () => {
  it('refuses anyone but another admin demoting or deleting the only admin (403), and changes nothing', async () => {
    const root = await seededAdmin();
    const rootSession = await login(t.app, ADMIN.email, ADMIN.password);
    const { user } = await newUser(t.app, 'bystander@example.test');
    // Only reachable through the use cases: over HTTP the actor is another admin.
    for (const attempt of [
      () => t.auth.accounts.setRole(user.id, root.id, 'customer'),
      () => t.auth.accounts.deleteUser(user.id, root.id),
    ]) {
      const err = (await attempt().catch((e: unknown) => e)) as AppError;
      expect(err).toMatchObject({
        status: 403,
        code: 'FORBIDDEN',
        details: { reason: 'not_admin' },
      });
    }
    expect(await admins()).toBe(1);
    expect((await t.auth.stores.users.findById(root.id))?.role).toBe('admin');
    // No session ended for a refused change.
    const verify = await request(t.app).get('/api/auth/verify').set(authHeader(root.token));
    expect(verify.status).toBe(200);
    const refreshed = await request(t.app)
      .post('/api/auth/refresh')
      .send({ refreshToken: rootSession.body.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.user.role).toBe('admin');
  });

  it('refuses a change by an admin demoted a moment ago (403), whose token no longer works', async () => {
    const root = await seededAdmin();
    const demoted = await promoted(root);
    const other = await promoted(root);
    await actions.demote(root, demoted).expect(200);
    // A request that passed the token check before the demotion reaches the use case as this.
    for (const attempt of [
      () => t.auth.accounts.setRole(demoted.id, other.id, 'customer'),
      () => t.auth.accounts.deleteUser(demoted.id, other.id),
    ]) {
      const err = (await attempt().catch((e: unknown) => e)) as AppError;
      expect(err).toMatchObject({
        status: 403,
        code: 'FORBIDDEN',
        details: { reason: 'not_admin' },
      });
    }
    expect((await t.auth.stores.users.findById(other.id))?.role).toBe('admin');
    const late = await actions.demote(demoted, other);
    expect(late.status).toBe(401);
    expect(late.body.error).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'revoked' } });
    // Back to one admin for the next test.
    await actions.delete(root, other).expect(204);
    await actions.delete(root, demoted).expect(204);
    expect(await admins()).toBe(1);
  });

  it('two admins demoting or deleting each other at the same moment leave one of them', async () => {
    let survivor = await seededAdmin();
    const rounds: Array<[keyof typeof actions, keyof typeof actions]> = [
      ['demote', 'demote'],
      ['delete', 'delete'],
      ['demote', 'delete'],
      ['demote', 'demote'],
      ['delete', 'demote'],
      ['delete', 'delete'],
    ];
    for (const [first, second] of rounds) {
      const partner = await promoted(survivor);
      const a = survivor;
      expect(await admins()).toBe(2);
      const [byA, byB] = await Promise.all([
        actions[first](a, partner),
        actions[second](partner, a),
      ]);
      const results = [
        { res: byA, actor: a },
        { res: byB, actor: partner },
      ];
      const won = results.filter(({ res }) => res.status === 200 || res.status === 204);
      expect(won.map(({ res }) => res.status)).toHaveLength(1);
      const lost = results.find(({ res }) => !won.some((w) => w.res === res))!;
      // Refused in the common shape: the loser's session already ended (401), or it is no
      // admin any more (403), told before anything about who is left.
      expect([401, 403]).toContain(lost.res.status);
      expect(lost.res.body.error).toMatchObject({
        code: lost.res.status === 403 ? 'FORBIDDEN' : 'UNAUTHORIZED',
        message: expect.any(String),
        requestId: expect.any(String),
      });
      expect(await admins()).toBe(1);
      survivor = won[0].actor;
      // The refused change ended none of the winner's sessions.
      const verify = await request(t.app).get('/api/auth/verify').set(authHeader(survivor.token));
      expect(verify.status).toBe(200);
    }
  });
});
