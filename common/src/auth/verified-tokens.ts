import { verifyAccessToken, type AccessTokenClaims, type JwtVerifyOptions } from './jwt';

interface Remembered {
  claims: AccessTokenClaims;
  expMs: number;
}

/**
 * verifyAccessToken with a memory: a token that verified is remembered until it expires, so a
 * client's repeated requests cost one map lookup instead of one signature verification (ECDSA
 * or RSA, the largest cost of an authenticated request). Only byte-identical tokens hit, so a
 * tampered copy is always verified, and refused; refusals are never remembered, so junk cannot
 * fill the memory. Bounded: the oldest entry makes room. Revocation is not this class's
 * business: callers ask about the session on every request.
 */
export class VerifiedTokens {
  private readonly remembered = new Map<string, Remembered>();

  constructor(
    private readonly options: JwtVerifyOptions,
    private readonly maxRemembered = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token's claims; throws verifyAccessToken's UnauthorizedError when it is refused. */
  verify(token: string): AccessTokenClaims {
    const hit = this.remembered.get(token);
    if (hit) {
      if (hit.expMs > this.now()) return hit.claims;
      this.remembered.delete(token);
    }
    const claims = verifyAccessToken(token, this.options);
    this.remember(token, { claims, expMs: claims.exp * 1000 });
    return claims;
  }

  get size(): number {
    return this.remembered.size;
  }

  private remember(token: string, entry: Remembered): void {
    if (this.maxRemembered <= 0) return;
    if (this.remembered.size >= this.maxRemembered) {
      // Oldest insertion first: a Map iterates in insertion order.
      const oldest = this.remembered.keys().next();
      if (!oldest.done) this.remembered.delete(oldest.value);
    }
    this.remembered.set(token, entry);
  }
}
