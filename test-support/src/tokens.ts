import { generateEs256KeyPair, signAccessToken, type AuthUser } from '@ecom/common/auth';

/** One ES256 key pair per test process, standing in for the auth service's. */
export const testKeys = generateEs256KeyPair();

/** The JWT variables a service under test verifies tokens with. */
export const testJwtEnv = {
  JWT_ALGORITHM: 'ES256',
  JWT_PUBLIC_KEY: testKeys.publicKey,
  JWT_ISSUER: 'ecom-auth',
  JWT_AUDIENCE: 'ecom-api',
} as const;

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
