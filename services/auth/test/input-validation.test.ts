import request from 'supertest';
import { authHeader, newUser, PASSWORD, startTestAuth, type TestAuth } from './support';

let t: TestAuth;
let token: string;
beforeAll(async () => {
  t = await startTestAuth('auth_input');
  token = (await newUser(t.app, 'victim@example.test')).accessToken;
});
afterAll(async () => t.close());

/** Document counts of every collection the service writes. */
async function counts() {
  const { users, refreshTokens, loginAttempts } = t.auth.stores;
  const { outbox } = t.auth;
  return {
    users: await users.model.countDocuments(),
    refreshTokens: await refreshTokens.model.countDocuments(),
    loginAttempts: await loginAttempts.model.countDocuments(),
    outbox: await outbox.model.countDocuments(),
  };
}

/** Sends a request and checks it changed no collection of the service. */
async function writingNothing(send: () => request.Test) {
  const before = await counts();
  const res = await send();
  expect(await counts()).toEqual(before);
  return res;
}

const huge = 'a'.repeat(50_000);

const cases: Array<[string, string, string, unknown]> = [
  ['register', 'post', '/api/auth/register', { email: { $gt: '' }, password: PASSWORD, name: 'X' }],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: 'x@example.test', password: { $ne: null }, name: 'X' },
  ],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: 'x@example.test', password: PASSWORD, name: ['X'] },
  ],
  ['register', 'post', '/api/auth/register', { email: 123, password: PASSWORD, name: 'X' }],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: 'x@example.test', password: 12345678, name: 'X' },
  ],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: 'x@example.test', password: PASSWORD, name: 'X', isAdmin: true },
  ],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: `${huge}@example.test`, password: PASSWORD, name: 'X' },
  ],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: 'x@example.test', password: huge, name: 'X' },
  ],
  [
    'register',
    'post',
    '/api/auth/register',
    { email: 'x@example.test', password: PASSWORD, name: huge },
  ],
  ['register', 'post', '/api/auth/register', ['x@example.test']],
  [
    'register',
    'post',
    '/api/auth/register',
    {
      __proto__: { role: 'admin' },
      email: 'x@example.test',
      password: PASSWORD,
      name: 'X',
      constructor: {},
    },
  ],
  ['login', 'post', '/api/auth/login', { email: { $gt: '' }, password: PASSWORD }],
  ['login', 'post', '/api/auth/login', { email: 'victim@example.test', password: { $gt: '' } }],
  ['login', 'post', '/api/auth/login', { email: { $regex: '.*' }, password: { $exists: true } }],
  [
    'login',
    'post',
    '/api/auth/login',
    { email: 'victim@example.test', password: PASSWORD, remember: true },
  ],
  ['login', 'post', '/api/auth/login', { email: 'victim@example.test', password: huge }],
  ['login', 'post', '/api/auth/login', { email: 'victim@example.test' }],
  ['refresh', 'post', '/api/auth/refresh', { refreshToken: { $ne: null } }],
  ['refresh', 'post', '/api/auth/refresh', { refreshToken: huge }],
  ['refresh', 'post', '/api/auth/refresh', { refreshToken: 42 }],
  ['logout', 'post', '/api/auth/logout', { refreshToken: { $gt: '' } }],
  ['profile', 'put', '/api/auth/profile', { name: { $set: 'pwned' } }],
  ['profile', 'put', '/api/auth/profile', { passwordHash: 'x' }],
  ['profile', 'put', '/api/users/profile', { address: { line1: huge, city: 'c', country: 'US' } }],
  [
    'password',
    'put',
    '/api/auth/password',
    { currentPassword: { $ne: '' }, newPassword: 'Another-1x' },
  ],
];

describe('bad input answers 400 and writes nothing', () => {
  it.each(cases)('%s: %s %s %j', async (_name, method, path, body) => {
    const res = await writingNothing(() =>
      (request(t.app) as unknown as Record<string, (p: string) => request.Test>)
        [method](path)
        .set(authHeader(token))
        .send(body as object),
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual({
      code: 'VALIDATION_ERROR',
      message: expect.any(String),
      details: expect.any(Array),
      requestId: expect.any(String),
    });
    // Hostile values are not echoed back.
    expect(JSON.stringify(res.body).length).toBeLessThan(2000);
  });

  it.each([
    ['/api/auth/register', '{"email": "x@example.test", "password": '],
    ['/api/auth/login', "{'email': 'x'}"],
    ['/api/auth/refresh', 'null'],
    ['/api/auth/login', '"just a string"'],
  ])('malformed JSON to %s → 400 MALFORMED_JSON', async (path, raw) => {
    const res = await writingNothing(() =>
      request(t.app).post(path).set('Content-Type', 'application/json').send(raw),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('MALFORMED_JSON');
  });

  it('a body over the limit → 413 in the common shape, nothing written', async () => {
    const res = await writingNothing(() =>
      request(t.app)
        .post('/api/auth/register')
        .send({ email: 'big@example.test', password: PASSWORD, name: 'x'.repeat(200_000) }),
    );
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a form-encoded or text body is refused for its type (415), never read as no body', async () => {
    for (const type of ['form', 'text/plain']) {
      const res = await writingNothing(() =>
        request(t.app)
          .post('/api/auth/register')
          .type(type)
          .send(
            type === 'form'
              ? { email: 'form@example.test', password: PASSWORD, name: 'F' }
              : JSON.stringify({ email: 'text@example.test', password: PASSWORD, name: 'T' }),
          ),
      );
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('an unknown route answers 404 in the common shape', async () => {
    const res = await request(t.app).post('/api/auth/nope').send({});
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('the victim account is intact and still logs in', async () => {
    const doc = await t.auth.stores.users.model.findOne({ email: 'victim@example.test' }).lean();
    expect(doc).toMatchObject({ role: 'customer', name: 'Test User' });
    const res = await request(t.app)
      .post('/api/auth/login')
      .send({ email: 'victim@example.test', password: PASSWORD });
    expect(res.status).toBe(200);
  });
});
