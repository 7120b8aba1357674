import jwt from 'jsonwebtoken';
import { randomUUID } from 'node:crypto';
import { UnauthorizedError } from '../errors/app-error';
import type { SessionRevocations } from './revocation';
import { ROLES, type AuthUser, type Role } from './types';

export type JwtAlgorithm = 'ES256' | 'RS256' | 'HS256';

export interface JwtVerifyOptions {
  algorithm: JwtAlgorithm;
  /** PEM public key for ES256/RS256, shared secret for HS256. */
  key: string;
  issuer: string;
  audience: string;
  /** Sessions revoked before their tokens expire (logout, role change, deletion). */
  revocations?: SessionRevocations;
}

export interface JwtSignOptions extends Omit<JwtVerifyOptions, 'key' | 'revocations'> {
  /** PEM private key for ES256/RS256, shared secret for HS256. */
  key: string;
  /** Lifetime of access tokens, e.g. `15m`, or seconds. */
  expiresIn: string | number;
}

export interface AccessTokenClaims {
  sub: string;
  role: Role;
  email?: string;
  type: 'access';
  /** The session (refresh-token family) the token was issued with: what revocation names. */
  sid?: string;
  jti: string;
  iat: number;
  exp: number;
  iss: string;
  aud: string;
}

export function signAccessToken(
  user: AuthUser,
  options: JwtSignOptions,
  sessionId?: string,
): string {
  const claims = { role: user.role, email: user.email, type: 'access', sid: sessionId };
  return jwt.sign(claims, options.key, {
    algorithm: options.algorithm,
    subject: user.id,
    issuer: options.issuer,
    audience: options.audience,
    expiresIn: options.expiresIn as jwt.SignOptions['expiresIn'],
    jwtid: randomUUID(),
  });
}

/**
 * Verifies signature, algorithm (one pinned value, so `alg: none` and algorithm confusion
 * are refused), expiry, issuer and audience, then the claim shapes this platform relies on.
 */
export function verifyAccessToken(token: string, options: JwtVerifyOptions): AccessTokenClaims {
  let decoded: string | jwt.JwtPayload;
  try {
    decoded = jwt.verify(token, options.key, {
      algorithms: [options.algorithm],
      issuer: options.issuer,
      audience: options.audience,
    });
  } catch (err) {
    const expired = err instanceof jwt.TokenExpiredError;
    throw new UnauthorizedError(expired ? 'Access token has expired' : 'Invalid access token', {
      reason: expired ? 'expired' : 'invalid',
    });
  }
  if (
    typeof decoded !== 'object' ||
    decoded.type !== 'access' ||
    // jsonwebtoken accepts a token without exp; an access token must expire.
    typeof decoded.exp !== 'number' ||
    typeof decoded.sub !== 'string' ||
    (decoded.sid !== undefined && typeof decoded.sid !== 'string') ||
    !ROLES.includes(decoded.role as Role)
  ) {
    throw new UnauthorizedError('Invalid access token', { reason: 'claims' });
  }
  return decoded as AccessTokenClaims;
}

export function userFromClaims(claims: AccessTokenClaims): AuthUser {
  return { id: claims.sub, role: claims.role, ...(claims.email ? { email: claims.email } : {}) };
}
