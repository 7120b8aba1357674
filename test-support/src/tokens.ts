import {
  generateEs256KeyPair,
  signAccessToken,
  type AuthUser,
  type JwtVerifyOptions,
} from '@ecom/common/auth';
import type { Test } from 'supertest';

/** One ES256 key pair per test process, standing in for the auth service's. */
export const testKeys = generateEs256KeyPair();

/** The JWT variables a service under test verifies tokens with. */
export const testJwtEnv = {
  JWT_ALGORITHM: 'ES256',
  JWT_PUBLIC_KEY: testKeys.publicKey,
  JWT_ISSUER: 'ecom-auth',
  JWT_AUDIENCE: 'ecom-api',
} as const;

/** How a service under test verifies tokens (bindRoutes' `jwt`), from testJwtEnv. */
export const testJwtVerify: JwtVerifyOptions = {
  algorithm: 'ES256',
  key: testKeys.publicKey,
  issuer: testJwtEnv.JWT_ISSUER,
  audience: testJwtEnv.JWT_AUDIENCE,
};

/** An access token for `user`, as auth would issue it (15 minutes unless `expiresIn` says otherwise). */
export function tokenFor(user: AuthUser, expiresIn: string | number = '15m'): string {
  return signAccessToken(user, {
    algorithm: 'ES256',
    key: testKeys.privateKey,
    issuer: testJwtEnv.JWT_ISSUER,
    audience: testJwtEnv.JWT_AUDIENCE,
    expiresIn,
  });
}

/** `Bearer <token>` for an Authorization header. */
export const bearer = (user: AuthUser) => `Bearer ${tokenFor(user)}`;

/** What a supertest agent offers (`request(app)`). */
export interface RequestAgent {
  get(path: string): Test;
  post(path: string): Test;
  put(path: string): Test;
  delete(path: string): Test;
}

/** Requests through `api` (e.g. `() => request(app)`), each carrying `user`'s token. */
export function requestsAs(api: () => RequestAgent, user: AuthUser) {
  const withToken = (test: Test) => test.set('Authorization', bearer(user));
  return {
    get: (path: string) => withToken(api().get(path)),
    post: (path: string) => withToken(api().post(path)),
    put: (path: string) => withToken(api().put(path)),
    delete: (path: string) => withToken(api().delete(path)),
  };
}
