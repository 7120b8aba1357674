import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  generateEs256KeyPair,
  processSessionRevocations,
  signAccessToken,
} from '@ecom/common/auth';
import { testKeys, tokenFor } from '@ecom/test-support';
import { hashRefreshToken } from '../src/application/tokens';
import { authHeader, login, newUser, startTestAuth, type TestAuth } from './support';

let t: TestAuth;
beforeAll(async () => {
  t = await startTestAuth('auth_tokens');
});
afterAll(async () => t.close());

const refresh = (token: string) =>
  request(t.app).post('/api/auth/refresh').send({ refreshToken: token });
const tokenDoc = (token: string) =>
  t.auth.stores.refreshTokens.model.findById(hashRefreshToken(token)).lean();

describe('POST /api/auth/refresh', () => {
  it('rotates: a new pair in the same family, the old token spent', async () => {
    const { user, refreshToken } = await newUser(t.app, 'rotate@example.test');
    const res = await refresh(refreshToken);
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: user.id, email: 'rotate@example.test' });
    expect(res.body.accessToken).toEqual(expect.any(String));
    expect(res.body.refreshToken).not.toBe(refreshToken);

    const [old, next] = [await tokenDoc(refreshToken), await tokenDoc(res.body.refreshToken)];
    expect(old!.usedAt).toBeInstanceOf(Date);
    expect(old!.replacedBy).toBe(hashRefreshToken(res.body.refreshToken));
    expect(next!.familyId).toBe(old!.familyId);
    expect(next!.usedAt).toBeNull();
    // The new one works in turn.
    expect((await refresh(res.body.refreshToken)).status).toBe(200);
  });

  it('stores only SHA-256 hashes of refresh tokens', async () => {
    const { user, refreshToken } = await newUser(t.app, 'hashed@example.test');
    const docs = await t.auth.stores.refreshTokens.model.find({ userId: user.id }).lean();
    expect(docs).toHaveLength(1);
    expect(docs[0]._id).toBe(hashRefreshToken(refreshToken));
    expect(JSON.stringify(docs)).not.toContain(refreshToken);
  });

  it('detects reuse of a spent token and revokes the whole family, but not other logins', async () => {
    const first = await newUser(t.app, 'stolen@example.test');
    const otherDevice = (await login(t.app, 'stolen@example.test')).body.refreshToken as string;
    const rotated = (await refresh(first.refreshToken)).body.refreshToken as string;

    // The thief (or the victim) presents the spent token again.
    const reuse = await refresh(first.refreshToken);
    expect(reuse.status).toBe(401);
    expect(reuse.body.error).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'reused' } });

    // Every token of that family is now dead, including the newest one.
    const afterwards = await refresh(rotated);
    expect(afterwards.status).toBe(401);
    expect(afterwards.body.error.details).toEqual({ reason: 'revoked' });
    const family = await t.auth.stores.refreshTokens.model
      .find({ familyId: (await tokenDoc(rotated))!.familyId })
      .lean();
    expect(family).toHaveLength(2);
    expect(family.every((doc) => doc.revokedReason === 'reuse')).toBe(true);

    // The session from the other login is another family: untouched.
    expect((await refresh(otherDevice)).status).toBe(200);
  });

  it('lets exactly one of two concurrent refreshes with one token win', async () => {
    const { refreshToken } = await newUser(t.app, 'race@example.test');
    const results = await Promise.all([refresh(refreshToken), refresh(refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    // The loser counts as reuse: the winner's new token is revoked with the family.
    const winner = results.find((r) => r.status === 200)!;
    expect((await refresh(winner.body.refreshToken)).status).toBe(401);
  });

  it('refuses a session already on the revoked list, and ends its refresh tokens', async () => {
    // Where a revocation that lists the session first (a role change, a deletion) has got to
    // when a refresh arrives: the list has the session, its refresh tokens are not revoked yet.
    const { refreshToken } = await newUser(t.app, 'listed@example.test');
    const { familyId } = (await tokenDoc(refreshToken))!;
    await processSessionRevocations().revoke([familyId], 60);
    const res = await refresh(refreshToken);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'revoked' } });
    const family = await t.auth.stores.refreshTokens.model.find({ familyId }).lean();
    expect(family.length).toBeGreaterThan(0);
    expect(family.every((doc) => doc.revokedAt instanceof Date)).toBe(true);
  });

  it('refuses an expired refresh token', async () => {
    const { refreshToken } = await newUser(t.app, 'expired@example.test');
    t.clock.advance(7 * 86400_000 + 1000);
    try {
      const res = await refresh(refreshToken);
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        message: 'Refresh token has expired',
        details: { reason: 'expired' },
      });
    } finally {
      t.clock.advance(-(7 * 86400_000 + 1000));
    }
  });

  it('refuses an unknown token and a malformed one', async () => {
    const unknown = await refresh('A'.repeat(43));
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.details).toEqual({ reason: 'unknown' });
    const malformed = await refresh('not a token!');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_ERROR');
    expect((await request(t.app).post('/api/auth/refresh').send({})).status).toBe(400);
  });

  it('takes the current role from the database, not from the old token', async () => {
    const { user, refreshToken } = await newUser(t.app, 'promoted@example.test');
    await t.auth.stores.users.model.updateOne({ _id: user.id }, { $set: { role: 'seller' } });
    const res = await refresh(refreshToken);
    expect(res.body.user.role).toBe('seller');
    const verify = await request(t.app)
      .get('/api/auth/verify')
      .set(authHeader(res.body.accessToken));
    expect(verify.body.claims.role).toBe('seller');
  });

  it('refuses a refresh token whose user was deleted', async () => {
    const { user, refreshToken } = await newUser(t.app, 'gone@example.test');
    await t.auth.stores.users.model.deleteOne({ _id: user.id });
    const res = await refresh(refreshToken);
    expect(res.status).toBe(401);
    expect(res.body.error.details).toEqual({ reason: 'unknown_user' });
  });
});

describe('POST /api/auth/logout', () => {
  it('revokes the session (its token family) and answers 204', async () => {
    const { refreshToken } = await newUser(t.app, 'bye@example.test');
    const rotated = (await refresh(refreshToken)).body.refreshToken as string;
    const res = await request(t.app).post('/api/auth/logout').send({ refreshToken: rotated });
    expect(res.status).toBe(204);
    expect((await tokenDoc(rotated))!.revokedReason).toBe('logout');
    const after = await refresh(rotated);
    expect(after.status).toBe(401);
    expect(after.body.error.details).toEqual({ reason: 'revoked' });
  });

  it('is idempotent: an unknown or already revoked token also answers 204', async () => {
    const { refreshToken } = await newUser(t.app, 'twice@example.test');
    expect((await request(t.app).post('/api/auth/logout').send({ refreshToken })).status).toBe(204);
    expect((await request(t.app).post('/api/auth/logout').send({ refreshToken })).status).toBe(204);
    const unknown = await request(t.app)
      .post('/api/auth/logout')
      .send({ refreshToken: 'B'.repeat(43) });
    expect(unknown.status).toBe(204);
  });

  it('refuses a body without a valid refresh token', async () => {
    const res = await request(t.app).post('/api/auth/logout').send({ token: 'x' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { field: string }) => d.field).sort()).toEqual([
      'refreshToken',
      'token',
    ]);
  });

  it('leaves nothing of a login alive when a refresh races its logout', async () => {
    const users = await Promise.all(
      Array.from({ length: 30 }, (_, i) => newUser(t.app, `logout-race-${i}@example.test`)),
    );
    // The logout of pair i follows i % 5 round trips to the service, so the logouts land at
    // every step of the refreshes (a logout sent at the same moment mostly comes first).
    const roundTrips = async (n: number) => {
      for (let k = 0; k < n; k += 1) await request(t.app).get('/health/live');
    };
    const outcomes = await Promise.all(
      users.map(async ({ refreshToken }, i) => {
        const { familyId } = (await tokenDoc(refreshToken))!;
        const [refreshed, loggedOut] = await Promise.all([
          refresh(refreshToken),
          roundTrips(i % 5).then(() =>
            request(t.app).post('/api/auth/logout').send({ refreshToken }),
          ),
        ]);
        return { familyId, refreshed, loggedOut };
      }),
    );
    for (const { familyId, refreshed, loggedOut } of outcomes) {
      expect(loggedOut.status).toBe(204);
      if (refreshed.status === 200) {
        // It came first: the logout then ended what it handed out.
        expect((await refresh(refreshed.body.refreshToken)).status).toBe(401);
        const verify = await request(t.app)
          .get('/api/auth/verify')
          .set(authHeader(refreshed.body.accessToken));
        expect(verify.status).toBe(401);
      } else {
        // It came second: refused as the logout's doing, not as theft.
        expect(refreshed.status).toBe(401);
        expect(refreshed.body.error.details).toEqual({ reason: 'revoked' });
      }
      const family = await t.auth.stores.refreshTokens.model.find({ familyId }).lean();
      expect(family.filter((doc) => !doc.revokedAt)).toEqual([]);
      expect(family.every((doc) => doc.revokedReason === 'logout')).toBe(true);
    }
  });
});

describe('POST /api/auth/logout-all', () => {
  it('revokes every session of the caller, and needs a token', async () => {
    const first = await newUser(t.app, 'alldevices@example.test');
    const second = (await login(t.app, 'alldevices@example.test')).body.refreshToken as string;
    const res = await request(t.app)
      .post('/api/auth/logout-all')
      .set(authHeader(first.accessToken));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revoked: 2 });
    expect((await refresh(first.refreshToken)).status).toBe(401);
    expect((await refresh(second)).status).toBe(401);
    expect((await request(t.app).post('/api/auth/logout-all')).status).toBe(401);
  });
});

describe('GET /api/auth/verify', () => {
  it('validates an access token and returns its claims', async () => {
    const { user, accessToken } = await newUser(t.app, 'verify@example.test');
    const res = await request(t.app).get('/api/auth/verify').set(authHeader(accessToken));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      valid: true,
      user: { id: user.id, role: 'customer', email: 'verify@example.test' },
      claims: {
        sub: user.id,
        role: 'customer',
        email: 'verify@example.test',
        type: 'access',
        sid: expect.any(String),
        jti: expect.any(String),
        iat: expect.any(Number),
        exp: expect.any(Number),
        iss: 'ecom-auth',
        aud: 'ecom-api',
      },
    });
  });

  it('answers 401 without a token, with a malformed header and with an expired token', async () => {
    const missing = await request(t.app).get('/api/auth/verify');
    expect(missing.status).toBe(401);
    expect(missing.body.error.details).toEqual({ reason: 'missing' });
    const malformed = await request(t.app)
      .get('/api/auth/verify')
      .set('Authorization', 'Basic abc');
    expect(malformed.body.error.details).toEqual({ reason: 'malformed' });
    const expired = tokenFor({ id: 'u1', role: 'customer' }, -10);
    const res = await request(t.app).get('/api/auth/verify').set(authHeader(expired));
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({
      message: 'Access token has expired',
      details: { reason: 'expired' },
    });
  });

  it('refuses tokens signed by another key, with alg none, or HS256 with the public key as secret', async () => {
    const foreign = generateEs256KeyPair();
    const forged = signAccessToken(
      { id: 'u1', role: 'admin' },
      {
        algorithm: 'ES256',
        key: foreign.privateKey,
        issuer: 'ecom-auth',
        audience: 'ecom-api',
        expiresIn: 60,
      },
    );
    const none = jwt.sign({ sub: 'u1', role: 'admin', type: 'access' }, '', {
      algorithm: 'none',
      issuer: 'ecom-auth',
      audience: 'ecom-api',
    });
    const confused = [
      Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url'),
      Buffer.from(
        JSON.stringify({
          sub: 'u1',
          role: 'admin',
          type: 'access',
          iss: 'ecom-auth',
          aud: 'ecom-api',
          exp: 9e9,
        }),
      ).toString('base64url'),
    ].join('.');
    const hs = `${confused}.${createHmac('sha256', testKeys.publicKey).update(confused).digest('base64url')}`;
    for (const token of [forged, none, hs]) {
      const res = await request(t.app).get('/api/auth/verify').set(authHeader(token));
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
  });
});
