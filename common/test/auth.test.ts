import express from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import {
  authenticate,
  generateEs256KeyPair,
  MemorySessionRevocations,
  requireRole,
  signAccessToken,
  verifyAccessToken,
  VerifiedTokens,
  type JwtSignOptions,
} from '../src/auth';
import { errorHandler } from '../src/http';
import { createLogger } from '../src/logging';

const keys = generateEs256KeyPair();
const signOptions: JwtSignOptions = {
  algorithm: 'ES256',
  key: keys.privateKey,
  issuer: 'ecom-auth',
  audience: 'ecom-api',
  expiresIn: '15m',
};
const verifyOptions = {
  algorithm: 'ES256' as const,
  key: keys.publicKey,
  issuer: 'ecom-auth',
  audience: 'ecom-api',
};
const user = { id: 'u1', role: 'seller' as const, email: 'a@b.c' };

function b64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A token signed with the right key and registered claims, but these custom claims as given. */
function signRaw(claims: object, key = keys.privateKey, algorithm: jwt.Algorithm = 'ES256') {
  return jwt.sign(claims, key, {
    algorithm,
    subject: 'u1',
    issuer: 'ecom-auth',
    audience: 'ecom-api',
  });
}

describe('JWT helpers', () => {
  it('round-trips an access token', () => {
    const claims = verifyAccessToken(signAccessToken(user, signOptions), verifyOptions);
    expect(claims).toMatchObject({ sub: 'u1', role: 'seller', email: 'a@b.c', type: 'access' });
    expect(claims.exp - claims.iat).toBe(15 * 60);
  });

  it('refuses expired tokens with reason "expired"', () => {
    const token = signAccessToken(user, { ...signOptions, expiresIn: -10 });
    expect(() => verifyAccessToken(token, verifyOptions)).toThrow('Access token has expired');
  });

  it('refuses alg "none" tokens', () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({
      sub: 'u1',
      role: 'admin',
      type: 'access',
      iss: 'ecom-auth',
      aud: 'ecom-api',
      exp: Math.floor(Date.now() / 1000) + 60,
    })}.`;
    expect(() => verifyAccessToken(token, verifyOptions)).toThrow('Invalid access token');
  });

  it('refuses algorithm confusion: an HS256 token signed with the public key', () => {
    const token = signRaw({ role: 'admin', type: 'access' }, keys.publicKey, 'HS256');
    expect(() => verifyAccessToken(token, verifyOptions)).toThrow('Invalid access token');
  });

  it('refuses tampered payloads, other keys, other audiences and non-access tokens', () => {
    const token = signAccessToken(user, signOptions);
    const [h, , s] = token.split('.');
    const forged = `${h}.${b64url({ sub: 'u1', role: 'admin', type: 'access' })}.${s}`;
    expect(() => verifyAccessToken(forged, verifyOptions)).toThrow();
    const other = generateEs256KeyPair();
    expect(() =>
      verifyAccessToken(
        signAccessToken(user, { ...signOptions, key: other.privateKey }),
        verifyOptions,
      ),
    ).toThrow();
    expect(() =>
      verifyAccessToken(
        signAccessToken(user, { ...signOptions, audience: 'elsewhere' }),
        verifyOptions,
      ),
    ).toThrow();
    const refresh = signRaw({ role: 'seller', type: 'refresh' });
    expect(() => verifyAccessToken(refresh, verifyOptions)).toThrow('Invalid access token');
  });

  it('refuses a correctly signed access token that never expires (no exp claim)', () => {
    const token = signRaw({ role: 'seller', type: 'access' });
    expect(jwt.decode(token)).not.toHaveProperty('exp');
    expect(() => verifyAccessToken(token, verifyOptions)).toThrow('Invalid access token');
  });

  it('refuses unknown roles', () => {
    const token = signRaw({ role: 'root', type: 'access' });
    expect(() => verifyAccessToken(token, verifyOptions)).toThrow('Invalid access token');
  });
});

describe('VerifiedTokens', () => {
  it('remembers a verified token until its exp, then verifies it afresh', () => {
    let now = Date.now();
    const tokens = new VerifiedTokens(verifyOptions, 10, () => now);
    const token = signAccessToken(user, { ...signOptions, expiresIn: 60 });
    const claims = tokens.verify(token);
    expect(claims.sub).toBe('u1');
    expect(tokens.size).toBe(1);
    expect(tokens.verify(token)).toBe(claims); // the remembered claims: no second verification
    now = claims.exp * 1000; // expired for the memory; jsonwebtoken's own clock still says valid
    expect(tokens.verify(token)).not.toBe(claims); // verified afresh
  });

  it('never remembers a refusal, and a remembered token does not let a tampered copy pass', () => {
    const tokens = new VerifiedTokens(verifyOptions, 10);
    const token = signAccessToken(user, signOptions);
    tokens.verify(token);
    const [h, , s] = token.split('.');
    const forged = `${h}.${b64url({ ...(jwt.decode(token) as object), role: 'admin' })}.${s}`;
    for (let i = 0; i < 3; i++) expect(() => tokens.verify(forged)).toThrow('Invalid access token');
    expect(() => tokens.verify('a.b.c')).toThrow();
    expect(tokens.size).toBe(1);
  });

  it('keeps at most its bound, dropping the oldest', () => {
    const tokens = new VerifiedTokens(verifyOptions, 2);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => signAccessToken({ ...user, id }, signOptions));
    for (const t of [a!, b!, c!]) tokens.verify(t);
    expect(tokens.size).toBe(2);
    const claims = tokens.verify(c!);
    expect(tokens.verify(c!)).toBe(claims);
  });
});

describe('authenticate and requireRole middleware', () => {
  const app = express();
  app.get('/me', authenticate(verifyOptions), (req, res) => res.json(req.user));
  app.get('/maybe', authenticate(verifyOptions, { optional: true }), (req, res) =>
    res.json({ user: req.user ?? null }),
  );
  app.get('/admin', authenticate(verifyOptions), requireRole('admin'), (_req, res) =>
    res.json({ ok: true }),
  );
  app.use(errorHandler(createLogger('test', 'silent')));

  it('sets req.user from a valid bearer token', async () => {
    const res = await request(app)
      .get('/me')
      .set('authorization', `Bearer ${signAccessToken(user, signOptions)}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(user);
  });

  it('verifies a token once for every route guarded with the same options', async () => {
    const options = { ...verifyOptions };
    const routes = express();
    routes.get('/a', authenticate(options), (req, res) => res.json(req.user));
    routes.get('/b', authenticate(options, { optional: true }), (req, res) => res.json(req.user));
    const token = signAccessToken(user, signOptions);
    const verify = jest.spyOn(jwt, 'verify');
    try {
      for (const route of ['/a', '/b', '/a']) {
        const res = await request(routes).get(route).set('authorization', `Bearer ${token}`);
        expect(res.body).toEqual(user);
      }
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
    }
  });

  it('refuses a token of a revoked session though it verified (and was remembered) before', async () => {
    const revocations = new MemorySessionRevocations();
    const guarded = express();
    guarded.get('/me', authenticate({ ...verifyOptions, revocations }), (req, res) =>
      res.json(req.user),
    );
    guarded.use(errorHandler(createLogger('test', 'silent')));
    const token = signAccessToken(user, signOptions, 'session-1');
    const call = () => request(guarded).get('/me').set('authorization', `Bearer ${token}`);
    expect((await call()).status).toBe(200);
    // The scheme's name is case-insensitive (RFC 9110 §11.1).
    for (const scheme of ['bearer', 'BEARER'])
      expect(
        (await request(guarded).get('/me').set('authorization', `${scheme} ${token}`)).status,
      ).toBe(200);
    expect((await call()).status).toBe(200);
    await revocations.revoke(['session-1'], 60);
    const refused = await call();
    expect(refused.status).toBe(401);
    expect(refused.body.error.details).toEqual({ reason: 'revoked' });
  });

  it('answers 401 in the common shape for missing, malformed and bad tokens', async () => {
    for (const header of [undefined, 'Basic abc', 'Bearer not-a-jwt', 'Bearer a.b.c']) {
      const req = request(app).get('/me');
      const res = await (header ? req.set('authorization', header) : req);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHORIZED');
    }
  });

  it('never takes identity from other headers', async () => {
    const res = await request(app)
      .get('/maybe')
      .set('x-user-id', 'admin')
      .set('x-user-role', 'admin');
    expect(res.body).toEqual({ user: null });
  });

  it('optional auth still refuses a bad token', async () => {
    expect((await request(app).get('/maybe').set('authorization', 'Bearer a.b.c')).status).toBe(
      401,
    );
  });

  it('answers 403 for a role that is not allowed', async () => {
    const seller = signAccessToken(user, signOptions);
    expect((await request(app).get('/admin').set('authorization', `Bearer ${seller}`)).status).toBe(
      403,
    );
    const admin = signAccessToken({ ...user, role: 'admin' }, signOptions);
    expect((await request(app).get('/admin').set('authorization', `Bearer ${admin}`)).status).toBe(
      200,
    );
  });
});
