import {
  sessionRevoked,
  type RevocationLogger,
  userFromClaims,
  verifyAccessToken,
  type AuthUser,
  type JwtVerifyOptions,
} from '@ecom/common/auth';
import { UnauthorizedError } from '@ecom/common/errors';

const BEARER = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)$/;

export type EdgeIdentity =
  | { kind: 'anonymous' }
  | { kind: 'user'; user: AuthUser }
  | { kind: 'rejected'; error: UnauthorizedError };

interface CachedToken {
  user: AuthUser;
  expMs: number;
  sid?: string;
}

/**
 * Verifies access tokens locally (pinned algorithm, issuer, audience, expiry, claim shapes
 * via common's verifyAccessToken). Verified tokens are remembered until they expire, so a
 * client's repeated requests cost one map lookup instead of one ECDSA verification; only
 * byte-identical tokens hit, so a tampered token is always verified (and refused). Whether the
 * token's session was revoked is asked on every request, never remembered.
 */
export class EdgeAuthenticator {
  private readonly cache = new Map<string, CachedToken>();

  constructor(
    private readonly options: JwtVerifyOptions,
    private readonly maxCached = 10_000,
    private readonly now: () => number = Date.now,
    private readonly logger?: RevocationLogger,
  ) {}

  async identify(authorization: string | undefined): Promise<EdgeIdentity> {
    const identity = this.verify(authorization);
    if (identity.kind !== 'user' || !identity.sid) return identity.result;
    if (await sessionRevoked(this.options.revocations, identity.sid, this.logger)) {
      return {
        kind: 'rejected',
        error: new UnauthorizedError('Session has ended', { reason: 'revoked' }),
      };
    }
    return identity.result;
  }

  private verify(
    authorization: string | undefined,
  ):
    { kind: 'user'; sid?: string; result: EdgeIdentity } | { kind: 'other'; result: EdgeIdentity } {
    const user = (entry: CachedToken) => ({
      kind: 'user' as const,
      sid: entry.sid,
      result: { kind: 'user' as const, user: entry.user },
    });
    const other = (result: EdgeIdentity) => ({ kind: 'other' as const, result });
    if (authorization === undefined) return other({ kind: 'anonymous' });
    const match = BEARER.exec(authorization.trim());
    if (!match) {
      return other({
        kind: 'rejected',
        error: new UnauthorizedError('Malformed Authorization header', { reason: 'malformed' }),
      });
    }
    const token = match[1]!;
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expMs > this.now()) return user(cached);
      this.cache.delete(token);
    }
    try {
      const claims = verifyAccessToken(token, this.options);
      const entry = { user: userFromClaims(claims), expMs: claims.exp * 1000, sid: claims.sid };
      this.remember(token, entry);
      return user(entry);
    } catch (err) {
      if (err instanceof UnauthorizedError) return other({ kind: 'rejected', error: err });
      throw err;
    }
  }

  private remember(token: string, entry: CachedToken): void {
    if (this.maxCached === 0) return;
    if (this.cache.size >= this.maxCached) {
      // Oldest insertion first: a Map iterates in insertion order.
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(token, entry);
  }
}

export function missingTokenError(): UnauthorizedError {
  return new UnauthorizedError('Authentication required', { reason: 'missing' });
}
