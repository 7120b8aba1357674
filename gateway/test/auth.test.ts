import request from 'supertest';
import { generateEs256KeyPair, MemorySessionRevocations, signAccessToken } from '@ecom/common/auth';
import jwt from 'jsonwebtoken';
import { buildGateway, type Gateway } from '../src/app';
import { EdgeAuthenticator } from '../src/edge-auth';
import {
  algNoneToken,
  AUDIENCE,
  claimsFor,
  customer,
  expiredToken,
  foreignKeyToken,
  hs256WithPublicKeyToken,
  ISSUER,
  keys,
  logger,
  tamperedToken,
  testConfig,
  tokenFor,
  useStubs,
} from './helpers';

const stubs = useStubs();
let gateway: Gateway;

beforeAll(async () => {
  gateway = buildGateway({ config: testConfig(stubs), logger });
});

afterAll(async () => {
  await gateway.close();
});

const touched = () => Object.values(stubs).reduce((n, s) => n + s.received.length, 0);

describe('public routes pass without a token', () => {
  it.each([
    ['post', '/api/auth/register', 'auth'],
    ['post', '/api/auth/login', 'auth'],
    ['post', '/api/auth/refresh', 'auth'],
    ['post', '/api/auth/logout', 'auth'],
    ['get', '/api/products', 'product'],
    ['get', '/api/products/p1', 'product'],
    ['get', '/api/products/categories', 'product'],
    ['get', '/api/comments/product/p1', 'comments'],
  ] as const)('%s %s', async (method, path, upstream) => {
    const res = await request(gateway.handler)
      [method](path)
      .send(method === 'post' ? {} : undefined);
    expect(res.status).toBe(200);
    expect(stubs[upstream].received).toHaveLength(1);
    expect(touched()).toBe(1);
  });

  it('a public route with a bad token still passes (the service decides), keyed per IP', async () => {
    const res = await request(gateway.handler)
      .post('/api/auth/refresh')
      .set('Authorization', `Bearer ${expiredToken(customer)}`)
      .send({ refreshToken: 'r' });
    expect(res.status).toBe(200);
    expect(res.body.body).toBe('{"refreshToken":"r"}');
  });
});

describe('every other route needs a valid access token', () => {
  const protectedRoutes = [
    ['get', '/api/orders'],
    ['post', '/api/orders'],
    ['post', '/api/products'],
    ['put', '/api/products/p1'],
    ['delete', '/api/products/p1'],
    ['post', '/api/comments'],
    ['get', '/api/comments/moderation/queue'],
    ['post', '/api/payments/initiate'],
    ['get', '/api/auth/profile'],
    ['post', '/api/auth/logout-all'],
    ['get', '/api/users'],
    ['get', '/api/blockchain/order/o1'],
    ['get', '/api/blockchain/verify/0x1'],
    // Spellings the service routes to the same handler (case, doubled or trailing slashes).
    ['get', '/api/comments//moderation/queue'],
    ['get', '/api/comments/Moderation/queue'],
    ['get', '/api/comments/moderation/queue/'],
  ] as const;

  it.each(protectedRoutes)(
    '%s %s without a token → 401, upstream untouched',
    async (method, path) => {
      const res = await request(gateway.handler)[method](path);
      expect(res.status).toBe(401);
      expect(res.body.error).toMatchObject({
        code: 'UNAUTHORIZED',
        details: { reason: 'missing' },
      });
      expect(res.body.error.requestId).toBe(res.headers['x-request-id']);
      expect(touched()).toBe(0);
    },
  );

  const user = customer;
  it.each([
    ['expired', () => expiredToken(user), 'expired'],
    ['tampered', () => tamperedToken(user), 'invalid'],
    ['alg none', () => algNoneToken(user), 'invalid'],
    ['HS256 signed with the public key', () => hs256WithPublicKeyToken(user), 'invalid'],
    ['signed by another key', () => foreignKeyToken(user), 'invalid'],
    [
      'RS256 from another issuer setup',
      () => {
        const rsa = require('node:crypto').generateKeyPairSync('rsa', {
          modulusLength: 2048,
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
          publicKeyEncoding: { type: 'spki', format: 'pem' },
        });
        return jwt.sign(claimsFor(user), rsa.privateKey, { algorithm: 'RS256' });
      },
      'invalid',
    ],
    [
      'wrong issuer',
      () => jwt.sign(claimsFor(user, { iss: 'evil' }), keys.privateKey, { algorithm: 'ES256' }),
      'invalid',
    ],
    [
      'wrong audience',
      () => jwt.sign(claimsFor(user, { aud: 'other' }), keys.privateKey, { algorithm: 'ES256' }),
      'invalid',
    ],
    [
      'a refresh-type token',
      () => jwt.sign(claimsFor(user, { type: 'refresh' }), keys.privateKey, { algorithm: 'ES256' }),
      'claims',
    ],
    [
      'a token without exp',
      () => {
        const { exp: _exp, ...claims } = claimsFor(user);
        return jwt.sign(claims, keys.privateKey, { algorithm: 'ES256' });
      },
      'claims',
    ],
  ])('%s → 401 before any upstream is touched', async (_label, makeToken, reason) => {
    const res = await request(gateway.handler)
      .get('/api/orders')
      .set('Authorization', `Bearer ${makeToken()}`);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
    expect(res.body.error.details.reason).toBe(reason);
    expect(touched()).toBe(0);
  });

  it('a malformed Authorization header → 401 malformed', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer not-a-jwt', tokenFor(customer)]) {
      const res = await request(gateway.handler).get('/api/orders').set('Authorization', header);
      expect(res.status).toBe(401);
      expect(res.body.error.details.reason).toBe('malformed');
    }
    expect(touched()).toBe(0);
  });

  it("the scheme's name in any letter case: the token passes (RFC 9110 §11.1)", async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      const res = await request(gateway.handler)
        .get('/api/orders')
        .set('Authorization', `${scheme} ${tokenFor(customer)}`);
      expect(res.status).toBe(200);
    }
    expect(touched()).toBe(3);
  });

  it('a valid token passes and reaches the service with Authorization unchanged', async () => {
    const token = tokenFor(customer);
    const res = await request(gateway.handler)
      .get('/api/orders')
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body.headers.authorization).toBe(`Bearer ${token}`);
  });
});

describe('EdgeAuthenticator', () => {
  const options = {
    algorithm: 'ES256' as const,
    key: keys.publicKey,
    issuer: ISSUER,
    audience: AUDIENCE,
  };

  it('remembers a verified token only until it expires', async () => {
    const auth = new EdgeAuthenticator(options, 10);
    // Two seconds: `exp` is in whole seconds, so the token lives between one and two of them
    // (one second could run out before the first check on a loaded machine).
    const token = tokenFor(customer, 2);
    expect(await auth.identify(`Bearer ${token}`)).toEqual({ kind: 'user', user: customer });
    expect(await auth.identify(`Bearer ${token}`)).toEqual({ kind: 'user', user: customer });
    await new Promise((r) => setTimeout(r, 3100));
    const later = await auth.identify(`Bearer ${token}`);
    expect(later.kind).toBe('rejected');
    if (later.kind === 'rejected') expect(later.error.details).toEqual({ reason: 'expired' });
  });

  it('a cached token does not make a tampered copy pass', async () => {
    const auth = new EdgeAuthenticator(options, 10);
    const token = tokenFor(customer);
    expect((await auth.identify(`Bearer ${token}`)).kind).toBe('user');
    const [h, , s] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify(claimsFor({ ...customer, role: 'admin' }))).toString('base64url')}.${s}`;
    expect((await auth.identify(`Bearer ${forged}`)).kind).toBe('rejected');
  });

  it('keeps at most maxCached tokens', async () => {
    const auth = new EdgeAuthenticator(options, 2);
    const tokens = [1, 2, 3].map((i) => tokenFor({ id: `u${i}`, role: 'customer' }));
    for (const t of tokens) await auth.identify(`Bearer ${t}`);
    expect(auth.cachedTokens).toBe(2);
  });

  it('refuses tokens from a key that is not the configured one even if well-formed', async () => {
    const auth = new EdgeAuthenticator(options, 10);
    const other = generateEs256KeyPair();
    const token = signAccessToken(customer, {
      algorithm: 'ES256',
      key: other.privateKey,
      issuer: ISSUER,
      audience: AUDIENCE,
      expiresIn: '5m',
    });
    expect((await auth.identify(`Bearer ${token}`)).kind).toBe('rejected');
  });

  it("refuses a token whose session was revoked, cached or not, and only that session's", async () => {
    const revocations = new MemorySessionRevocations();
    const auth = new EdgeAuthenticator({ ...options, revocations }, 10);
    const sign = (sid: string) =>
      signAccessToken(
        customer,
        {
          algorithm: 'ES256',
          key: keys.privateKey,
          issuer: ISSUER,
          audience: AUDIENCE,
          expiresIn: '5m',
        },
        sid,
      );
    const ended = sign('session-ended');
    const live = sign('session-live');
    expect((await auth.identify(`Bearer ${ended}`)).kind).toBe('user');
    await revocations.revoke(['session-ended'], 60);
    const after = await auth.identify(`Bearer ${ended}`);
    expect(after.kind).toBe('rejected');
    if (after.kind === 'rejected') expect(after.error.details).toEqual({ reason: 'revoked' });
    expect((await auth.identify(`Bearer ${live}`)).kind).toBe('user');
  });
});
