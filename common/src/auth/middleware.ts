import type { Request, RequestHandler } from 'express';
import { ForbiddenError, UnauthorizedError } from '../errors/app-error';
import { getContext } from '../logging/context';
import { userFromClaims, type JwtVerifyOptions } from './jwt';
import { sessionRefusal, sessionVerdict } from './revocation';
import type { AuthUser, Role } from './types';
import { VerifiedTokens } from './verified-tokens';

/** The token of an `Authorization: Bearer <jwt>` header (undefined for anything else). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)$/i.exec(
    header.trim(),
  );
  return match?.[1];
}

// Routes are guarded one by one with the service's one options object: they share one memory
// of verified tokens (one bound, and a token verified on one route is known on the others).
const memories = new WeakMap<JwtVerifyOptions, VerifiedTokens>();

function verifiedTokensFor(options: JwtVerifyOptions): VerifiedTokens {
  let tokens = memories.get(options);
  if (!tokens) {
    tokens = new VerifiedTokens(options);
    memories.set(options, tokens);
  }
  return tokens;
}

/**
 * Sets `req.user` from a verified Bearer token whose session was not revoked. With
 * `optional`, a request without an Authorization header passes anonymously (a present but bad
 * token is still refused). Identity is never taken from any other header.
 */
export function authenticate(
  options: JwtVerifyOptions,
  { optional = false }: { optional?: boolean } = {},
): RequestHandler {
  const tokens = verifiedTokensFor(options);
  return (req, _res, next) => {
    const header = req.get('authorization');
    if (!header) {
      if (optional) {
        next();
        return;
      }
      next(new UnauthorizedError('Authentication required', { reason: 'missing' }));
      return;
    }
    const token = bearerToken(header);
    if (!token) {
      next(new UnauthorizedError('Malformed Authorization header', { reason: 'malformed' }));
      return;
    }
    let claims;
    try {
      claims = tokens.verify(token);
    } catch (err) {
      next(err);
      return;
    }
    sessionVerdict(options.revocations, claims.sid, undefined, claims.iat).then((verdict) => {
      if (verdict) {
        next(sessionRefusal(verdict));
        return;
      }
      req.user = userFromClaims(claims);
      const ctx = getContext();
      if (ctx) ctx.userId = req.user.id;
      next();
    }, next);
  };
}

/** Must follow `authenticate`. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.user) {
      next(new UnauthorizedError());
      return;
    }
    if (!roles.includes(req.user.role)) {
      next(new ForbiddenError(`Requires role: ${roles.join(' or ')}`));
      return;
    }
    next();
  };
}

/** The authenticated caller inside a handler behind `authenticate` (401 if it is missing). */
export function requireUser(req: Request): AuthUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}
