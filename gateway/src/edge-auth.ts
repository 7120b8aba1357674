import {
  sessionRefusal,
  sessionVerdict,
  type RevocationLogger,
  userFromClaims,
  VerifiedTokens,
  type AuthUser,
  type JwtVerifyOptions,
} from '@ecom/common/auth';
import { UnauthorizedError } from '@ecom/common/errors';

const BEARER = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*\.[A-Za-z0-9\-_]*)$/i;

export type EdgeIdentity =
  | { kind: 'anonymous' }
  | { kind: 'user'; user: AuthUser }
  | { kind: 'rejected'; error: UnauthorizedError };

/**
 * Verifies access tokens locally (pinned algorithm, issuer, audience, expiry, claim shapes
 * via common's verifyAccessToken), remembering verified ones until they expire (common's
 * VerifiedTokens). Whether the token's session was revoked is asked on every request, never
 * remembered.
 */
export class EdgeAuthenticator {
  private readonly tokens: VerifiedTokens;

  constructor(
    private readonly options: JwtVerifyOptions,
    maxCached = 10_000,
    now: () => number = Date.now,
    private readonly logger?: RevocationLogger,
  ) {
    this.tokens = new VerifiedTokens(options, maxCached, now);
  }

  /** How many verified tokens are remembered (bounded by maxCached). */
  get cachedTokens(): number {
    return this.tokens.size;
  }

  async identify(authorization: string | undefined): Promise<EdgeIdentity> {
    const identity = this.verify(authorization);
    if (identity.kind !== 'user' || !identity.sid) return identity.result;
    const verdict = await sessionVerdict(
      this.options.revocations,
      identity.sid,
      this.logger,
      identity.iat,
    );
    if (verdict) return { kind: 'rejected', error: sessionRefusal(verdict) };
    return identity.result;
  }

  private verify(
    authorization: string | undefined,
  ):
    | { kind: 'user'; sid?: string; iat: number; result: EdgeIdentity }
    | { kind: 'other'; result: EdgeIdentity } {
    const other = (result: EdgeIdentity) => ({ kind: 'other' as const, result });
    if (authorization === undefined) return other({ kind: 'anonymous' });
    const match = BEARER.exec(authorization.trim());
    if (!match) {
      return other({
        kind: 'rejected',
        error: new UnauthorizedError('Malformed Authorization header', { reason: 'malformed' }),
      });
    }
    try {
      const claims = this.tokens.verify(match[1]!);
      return {
        kind: 'user',
        sid: claims.sid,
        iat: claims.iat,
        result: { kind: 'user', user: userFromClaims(claims) },
      };
    } catch (err) {
      if (err instanceof UnauthorizedError) return other({ kind: 'rejected', error: err });
      throw err;
    }
  }
}

export function missingTokenError(): UnauthorizedError {
  return new UnauthorizedError('Authentication required', { reason: 'missing' });
}
